"""A real network partition: the agent of the node that runs a workload is cut off (its link
goes down, no socket is closed). The controller must find the node NotReady, move the work
to the other node, and the cut-off agent must stop its copy first: never two at once.
When the link comes back, the node is Ready again and still runs nothing of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk import NodeState
from sdk.cli.local_cluster import ClusterSpec, LocalCluster, program
from tests.fault.invariants import (
    admin,
    check_invariants,
    eventually,
    register_managed,
    running_copies,
)
from tests.fault.netns import NetnsPair, NetnsUnavailable, Relay

NODE_GRACE_S = 3
EVICTION_GRACE_S = 8
# Below grace + eviction: the cut-off agent stops its copy before the controller starts
# another one elsewhere (the agent notices after its 8 s silence limit at the earliest).
FENCE_AFTER_S = NODE_GRACE_S + EVICTION_GRACE_S - 4
WORKLOAD = "default/cut-off"


@pytest.fixture
def partitionable(tmp_path: Path) -> Iterator[tuple[LocalCluster, NetnsPair]]:
    """node-1 on this host; node-2 in a network namespace of its own, reaching the
    controller through a relay in a second namespace."""
    try:
        pair = NetnsPair().create()
    except NetnsUnavailable as exc:
        pytest.skip(str(exc))
    spec = ClusterSpec(
        tmp_path / "state",
        nodes=1,
        gpus_per_node=4,
        gpu_model="A100-80GB",
        controller_args=(
            "--node-grace-s", str(NODE_GRACE_S),
            "--eviction-grace-s", str(EVICTION_GRACE_S),
        ),
        agent_args=("--fence-after-s", str(FENCE_AFTER_S)),
        default_ports=False,
    )  # fmt: skip
    cluster = LocalCluster(spec)
    relay: Relay | None = None
    try:
        cluster.start()
        host, _, port = cluster.controller_address.rpartition(":")
        relay = Relay(pair.gateway_ns, pair.gateway_ip, (host, int(port)))
        cluster._spawn(
            "agent",
            "node-2",
            "",
            [
                *pair.exec_prefix(),
                *program("aiwo-agent", "nodeagent.main"),
                "--controller", relay.address,
                "--node", "node-2",
                "--backend", "sim",
                "--sim-gpu-model", spec.gpu_model,
                "--sim-gpus", str(spec.gpus_per_node),
                "--state-dir", str(cluster.state_dir / "agents" / "node-2"),
                *spec.agent_args,
            ],
        )  # fmt: skip
        cluster.write_cluster_file()
        yield cluster, pair
    finally:
        cluster.stop(grace_s=3)
        if relay is not None:
            relay.close()
        pair.delete()


def _node_states(cluster: LocalCluster) -> dict[str, NodeState]:
    client = admin(cluster)
    try:
        return {n.name: n.state for n in client.list_nodes()}
    finally:
        client.close()


def _placed_on(cluster: LocalCluster) -> str:
    client = admin(cluster)
    try:
        listed = {f"{w.namespace}/{w.name}": w for w in client.list_workloads()}
    finally:
        client.close()
    return listed[WORKLOAD].node


def test_a_partitioned_node_loses_its_work_to_another_once(
    partitionable: tuple[LocalCluster, NetnsPair],
) -> None:
    cluster, pair = partitionable
    both = {"node-1": NodeState.READY, "node-2": NodeState.READY}
    eventually(lambda: _node_states(cluster) == both, 30, "both nodes Ready")
    client = admin(cluster)
    try:
        client.cordon("node-1", reason="the workload must land on node-2 first")
        register_managed(cluster, [WORKLOAD.split("/")[1]])
        eventually(
            lambda: _placed_on(cluster) == "node-2" and running_copies(WORKLOAD, cluster) == 1,
            30,
            "running on node-2",
        )
        client.uncordon("node-1")
    finally:
        client.close()

    pair.partition()
    cut = time.monotonic()
    try:
        most = 0

        def moved() -> bool:
            nonlocal most
            copies = running_copies(WORKLOAD, cluster)
            most = max(most, copies)  # (`eventually` retries on exceptions: assert after)
            return (
                _node_states(cluster).get("node-2") == NodeState.NOT_READY
                and _placed_on(cluster) == "node-1"
                and copies == 1
            )

        eventually(moved, NODE_GRACE_S + EVICTION_GRACE_S + 30, "the work moved to node-1")
        moved_s = time.monotonic() - cut
        assert most <= 1, f"{most} copies ran at once during the partition"
        assert moved_s >= NODE_GRACE_S + EVICTION_GRACE_S - 1  # not before the graces
    finally:
        pair.heal()
    eventually(lambda: _node_states(cluster) == both, 40, "node-2 Ready after the heal")
    check_invariants(cluster, [WORKLOAD])
    assert _placed_on(cluster) == "node-1"
