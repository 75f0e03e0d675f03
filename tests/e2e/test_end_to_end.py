"""End to end with real processes: controller + 2 agents, the SDK, the admin API, a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk import AdminClient, Client, NodeState, Resources
from tests.helpers import EtcdMember, assert_eventually

BIN = Path(sys.executable).parent


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "wb")  # closed with the process
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def cluster(etcd: EtcdMember, etcd_prefix: str, tmp_path: Path) -> Iterator[dict[str, object]]:
    ready = tmp_path / "ready.json"
    controller = _spawn(
        [
            str(BIN / "aiwo-controller"),
            "--listen", "127.0.0.1:0",
            "--etcd-endpoints", etcd.endpoint,
            "--etcd-prefix", etcd_prefix,
            "--metrics-listen", "127.0.0.1:0",
            "--node-grace-s", "2",
            "--ready-file", str(ready),
        ],
        tmp_path / "controller.log",
    )  # fmt: skip
    procs = [controller]
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert controller.poll() is None, (tmp_path / "controller.log").read_text()
            assert time.monotonic() < deadline, "controller not ready"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        agents = {}
        for node in ("node-a", "node-b"):
            agents[node] = _spawn(
                [
                    str(BIN / "aiwo-agent"),
                    "--controller", info["address"],
                    "--node", node,
                    "--backend", "sim",
                    "--sim-gpu-model", "A100-80GB",
                    "--sim-gpus", "4",
                    "--cpu-milli", "64000",
                    "--memory-mib", "262144",
                    "--telemetry-interval-s", "0.5",
                    "--state-dir", str(tmp_path / node),
                ],
                tmp_path / f"{node}.log",
            )  # fmt: skip
            procs.append(agents[node])
        yield {
            "address": info["address"],
            "metrics": info["metrics"],
            "agents": agents,
            "logs": tmp_path,
        }
    finally:
        for proc in reversed(procs):
            _stop(proc)


async def test_register_place_observe_and_lose_a_node(cluster: dict[str, object]) -> None:
    address = str(cluster["address"])
    admin = await AdminClient.connect(address)
    client = await Client.connect(address)
    try:

        async def both_ready() -> bool:
            nodes = await admin.list_nodes()
            return len(nodes) == 2 and all(n.state == NodeState.READY for n in nodes)

        await assert_eventually(both_ready, timeout_s=20, message="agents not registered")

        handle = await client.register(
            "inference", priority="high", resources=Resources(gpus=1, milli_gpu=500)
        )
        placement = await handle.wait_placed(timeout=10)
        assert placement.node in ("node-a", "node-b") and len(placement.gpus) == 1

        async def loaded_gpu_visible() -> bool:
            gpus = await admin.list_gpus(placement.node)
            gpu = next(g for g in gpus if g.index == placement.gpus[0])
            return gpu.sample_unix > 0 and gpu.utilization_pct > 0 and gpu.power_w > 0

        await assert_eventually(loaded_gpu_visible, timeout_s=10, message="telemetry not visible")
        gpus = await admin.list_gpus()
        assert len(gpus) == 8 and {g.model for g in gpus} == {"A100-80GB"}

        agents = cluster["agents"]
        assert isinstance(agents, dict)
        victim = agents[placement.node]
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()

        async def victim_not_ready() -> bool:
            node = await admin.get_node(placement.node)
            return node.state == NodeState.NOT_READY

        await assert_eventually(victim_not_ready, timeout_s=15, message="node not NotReady")
        other = next(n for n in await admin.list_nodes() if n.name != placement.node)
        assert other.state == NodeState.READY
    finally:
        await client.close()
        await admin.close()
