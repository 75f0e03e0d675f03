"""What must hold after any fault: checked from outside, the way an operator would see it."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import aetcd

from sdk import ClientConfig, LaunchSpec, NodeState, Resources, SyncAdminClient, SyncClient
from sdk.cli.cluster import collect
from sdk.cli.local_cluster import LocalCluster
from tests.helpers import workload_processes

T = TypeVar("T")

SLEEPER = (sys.executable, "-c", "import time; time.sleep(3600)")


def eventually(check: Callable[[], T], timeout_s: float = 20.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # a controller may be failing over: keep asking
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout_s}s") from last


def admin(cluster: LocalCluster) -> SyncAdminClient:
    return SyncAdminClient.connect(cluster.controller_address, config=ClientConfig(rpc_timeout_s=5))


def register_managed(cluster: LocalCluster, names: list[str]) -> None:
    """Register as an application would: retrying while a failover is under way
    (registration is idempotent for the same spec)."""

    def register_all() -> bool:
        client = SyncClient.connect(cluster.controller_address)
        try:
            for name in names:
                client.register(
                    name,
                    resources=Resources(gpus=1, milli_gpu=250),
                    launch=LaunchSpec(command=SLEEPER),
                )
        finally:
            client.close()
        return True

    eventually(register_all, 15, f"registration of {names}")


def leaders(cluster: LocalCluster) -> list[str]:
    import json

    data = json.loads((cluster.state_dir / "cluster.json").read_text())
    return [s.name for s in collect(data) if s.role == "controller" and s.leader]


def running_copies(workload: str, cluster: LocalCluster) -> int:
    """Live processes of this cluster's agents that run `workload` (from their environment;
    other clusters on the machine may run workloads of the same name)."""
    marker = f"AIWO_WORKLOAD={workload}".encode()
    return sum(
        marker in p.environ and b"time.sleep(3600)" in p.cmdline
        for p in workload_processes(cluster.state_dir)
    )


async def _pending_commands(endpoints: list[str]) -> int:
    host, _, port = ("ipv4:" + ",".join(endpoints)).rpartition(":")
    async with aetcd.Client(host=host, port=int(port)) as client:
        result = await client.get_prefix(b"/aiwo/v1/commands/")
        return len(result.kvs)


def check_invariants(cluster: LocalCluster, workloads: list[str], timeout_s: float = 30) -> None:
    """No workload lost or running twice; no GPU over-committed; every command acked or
    failed; every node whose agent runs is Ready."""

    state = {"last": ""}

    def settled() -> bool:
        client = admin(cluster)
        try:
            listed = {f"{w.namespace}/{w.name}": w for w in client.list_workloads()}
            nodes = {n.name: n for n in client.list_nodes()}
        finally:
            client.close()
        missing = [w for w in workloads if w not in listed]
        assert not missing, f"workloads lost: {missing}"
        shares: Counter[tuple[str, int]] = Counter()
        for w in listed.values():
            for gpu in w.gpus:
                shares[(w.node, gpu)] += w.milli_gpu or 1000
        over = {k: v for k, v in shares.items() if v > 1000}
        assert not over, f"GPUs over-committed: {over}"
        copies = {w: running_copies(w, cluster) for w in workloads}
        assert all(c <= 1 for c in copies.values()), f"running twice: {copies}"
        agents_alive = {p.name for p in cluster.procs if p.role == "agent" and _alive(p.pid)}
        ready = all(nodes[n].state == NodeState.READY for n in agents_alive if n in nodes)
        placed = all(listed[w].node for w in workloads)
        once = all(c == 1 for c in copies.values())
        pending = asyncio.run(_pending_commands(cluster.etcd_endpoints_alive()))
        state["last"] = (
            f"nodes ready={ready} placed={placed} copies={copies} pending commands={pending} "
            f"nodes={[(n.name, n.state.value) for n in nodes.values()]} "
            f"workloads={[(k, w.phase.value, w.node) for k, w in listed.items()]}"
        )
        return ready and placed and once and pending == 0

    try:
        eventually(settled, timeout_s, "invariants (placed once, acked, ready)")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {state['last']}") from exc.__cause__


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return False
