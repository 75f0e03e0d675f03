"""Real local clusters for end-to-end tests of managed workloads and migrations.

Everything is a real process: etcd, the controller, the agents (each with its own state
directory: they share no checkpoint directory), and the workloads the agents start.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, TypeVar

from sdk import (
    ControllerUnavailable,
    LaunchSpec,
    Resources,
    RestartPolicy,
    SyncAdminClient,
    SyncClient,
)
from sdk.cli.local_cluster import ClusterSpec, LocalCluster

T = TypeVar("T")
BIN = Path(sys.executable).parent
NODE_GRACE_S = 3


@contextmanager
def local_cluster(
    state: Path, nodes: int = 2, agent_args: tuple[str, ...] = ()
) -> Iterator[LocalCluster]:
    spec = ClusterSpec(
        state,
        nodes=nodes,
        gpus_per_node=2,
        gpu_model="A100-80GB",
        controller_args=(
            "--node-grace-s", str(NODE_GRACE_S),
            "--eviction-grace-s", "60",
            "--leader-lease-s", "2",
        ),
        agent_args=agent_args,
        default_ports=False,
    )  # fmt: skip
    with running_cluster(spec, registered=nodes) as cluster:
        yield cluster


@contextmanager
def running_cluster(spec: ClusterSpec, registered: int = 0) -> Iterator[LocalCluster]:
    """The cluster of `spec`, started, once `registered` agents have registered; stopped after."""
    cluster = LocalCluster(spec)
    cluster.start()
    try:
        if registered:
            with SyncAdminClient.connect(cluster.controller_address) as admin:
                wait_for(lambda: len(admin.list_nodes()) >= registered, 30, "agents not registered")
        yield cluster
    finally:
        cluster.stop(grace_s=3)


def wait_for(
    check: Callable[[], T | Literal[False] | None], timeout_s: float = 20, message: str = ""
) -> T:
    """Poll `check` until it returns something truthy (AssertionError counts as not yet)."""
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except (AssertionError, ControllerUnavailable) as exc:  # e.g. while it restarts
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{message or 'condition not met'} within {timeout_s}s") from last
        time.sleep(0.1)


def counter_launch(count_log: Path, *extra: str) -> LaunchSpec:
    return LaunchSpec(
        command=[
            sys.executable, "-m", "sdk.examples.counter",
            "--count-log", str(count_log), "--interval-s", "0.02", *extra,
        ],
        restart_policy=RestartPolicy.NEVER,
    )  # fmt: skip


def start_counter(client: SyncClient, name: str, count_log: Path, *extra: str) -> str:
    """Register a managed counter; wait until it counts; return its node."""
    handle = client.register(
        name, resources=Resources(gpus=1), launch=counter_launch(count_log, *extra)
    )
    placement = handle.wait_placed(20)
    wait_for(lambda: len(counts(count_log)) >= 10, 20, f"{name} does not count")
    return placement.node


def counts(count_log: Path) -> list[int]:
    """Every count written so far (whole lines only)."""
    try:
        text = count_log.read_text()
    except FileNotFoundError:
        return []
    return [int(line) for line in text.split("\n")[:-1]]


def keeps_counting(count_log: Path, message: str, more: int = 20) -> None:
    """Wait until the counter has written `more` counts past the last one so far."""
    last = max(counts(count_log))
    wait_for(lambda: max(counts(count_log)) > last + more, 20, message)


def assert_contiguous(values: list[int]) -> None:
    """1, 2, 3, ... with nothing lost and nothing repeated."""
    repeated = sorted({v for v in values if values.count(v) > 1})
    assert not repeated, f"counts repeated: {repeated[:10]}"
    assert values == list(range(1, len(values) + 1)), f"counts lost: {_gaps(values)}"


def _gaps(values: list[int]) -> list[tuple[int, int]]:
    return [(a, b) for a, b in itertools.pairwise(values) if b != a + 1][:10]


def other(node: str, nodes: int = 2) -> str:
    names = [f"node-{i}" for i in range(1, nodes + 1)]
    return next(n for n in names if n != node)


def cli(cluster: LocalCluster, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIWO_STATE_DIR": str(cluster.state_dir)}
    env.pop("AIWO_CONTROLLER", None)
    result = subprocess.run(
        [str(BIN / "aiwo"), "--controller", cluster.controller_address, *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def cli_json(cluster: LocalCluster, *args: str) -> object:
    return json.loads(cli(cluster, *args, "-o", "json").stdout)


@contextmanager
def clients(cluster: LocalCluster) -> Iterator[tuple[SyncAdminClient, SyncClient]]:
    """An admin and a workload client of the cluster's controller, closed on the way out."""
    admin = SyncAdminClient.connect(cluster.controller_address)
    client = SyncClient.connect(cluster.controller_address)
    try:
        yield admin, client
    finally:
        client.close()
        admin.close()
