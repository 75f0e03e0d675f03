"""Fault tests on a real replicated cluster: kill, pause, restart; then check the invariants."""

from __future__ import annotations

import signal
import time

import pytest

from sdk import AiwoError, ClientConfig, Resources, SyncClient
from sdk.cli.local_cluster import LocalCluster
from tests.fault.conftest import LEADER_LEASE_S, NODE_GRACE_S
from tests.fault.invariants import (
    admin,
    check_invariants,
    eventually,
    leaders,
    register_managed,
    running_copies,
)

WORKLOADS = ["default/svc-a", "default/svc-b", "default/svc-c"]


def _start(cluster: LocalCluster) -> None:
    eventually(lambda: len(leaders(cluster)) == 1, 20, "one leader")
    # Every agent registered before a test stops one: on a loaded machine an agent may
    # still be importing when the workloads are already placed on the others.
    eventually(lambda: _all_ready(cluster), 30, "every node Ready")
    register_managed(cluster, [w.split("/")[1] for w in WORKLOADS])
    check_invariants(cluster, WORKLOADS)


def _all_ready(cluster: LocalCluster) -> bool:
    client = admin(cluster)
    try:
        nodes = client.list_nodes()
    finally:
        client.close()
    expected = {f"node-{i}" for i in range(1, cluster.spec.nodes + 1)}
    return {n.name for n in nodes if n.state.value == "ready"} == expected


def test_kill_9_the_leader(ha_cluster: LocalCluster) -> None:
    _start(ha_cluster)
    [old] = leaders(ha_cluster)
    ha_cluster.kill(old)
    killed = time.monotonic()
    eventually(lambda: leaders(ha_cluster) not in ([], [old]), 15, "a new leader")
    failover_s = time.monotonic() - killed
    assert failover_s < 5.0 + 1.0, f"failover took {failover_s:.1f}s"  # 1 s: polling slack
    register_managed(ha_cluster, ["after-failover"])
    check_invariants(ha_cluster, [*WORKLOADS, "default/after-failover"])


def test_kill_one_etcd_member_of_three(ha_cluster: LocalCluster) -> None:
    _start(ha_cluster)
    ha_cluster.kill("etcd-1")
    register_managed(ha_cluster, ["after-etcd-loss"])

    def cordon_round_trip() -> bool:  # as an operator would: again if the first try fails
        client = admin(ha_cluster)
        try:
            assert client.cordon("node-2", reason="fault test").cordoned
            return not client.uncordon("node-2").cordoned
        finally:
            client.close()

    eventually(cordon_round_trip, 15, "cordon and uncordon")
    check_invariants(ha_cluster, [*WORKLOADS, "default/after-etcd-loss"])


def test_restart_an_agent(ha_cluster: LocalCluster) -> None:
    _start(ha_cluster)
    ha_cluster.kill("node-1")  # its workloads outlive it, in sessions of their own
    ha_cluster.respawn("node-1")  # back within the grace: it reaps them, then restarts them
    check_invariants(ha_cluster, WORKLOADS)


def test_restart_every_controller_at_once(ha_cluster: LocalCluster) -> None:
    _start(ha_cluster)
    for name in ("controller-1", "controller-2"):
        ha_cluster.kill(name)
    for name in ("controller-1", "controller-2"):
        ha_cluster.respawn(name)
    eventually(lambda: len(leaders(ha_cluster)) == 1, 20, "one leader after the restart")
    check_invariants(ha_cluster, WORKLOADS)


def test_pause_the_leader_past_its_lease(ha_cluster: LocalCluster) -> None:
    _start(ha_cluster)
    [old] = leaders(ha_cluster)
    ha_cluster.kill(old, signal.SIGSTOP)
    try:
        other = "controller-2" if old == "controller-1" else "controller-1"
        eventually(lambda: other in leaders(ha_cluster), LEADER_LEASE_S + 10, "takeover")
        register_managed(ha_cluster, ["while-paused"])
    finally:
        ha_cluster.kill(old, signal.SIGCONT)
    # The old leader wakes up deposed: its lease is gone, its writes are fenced.
    eventually(lambda: leaders(ha_cluster) == [other], 15, "the woken leader steps down")
    check_invariants(ha_cluster, [*WORKLOADS, "default/while-paused"])
    assert all(running_copies(w, ha_cluster) == 1 for w in WORKLOADS)


def test_silent_agent_goes_not_ready_then_ready(ha_cluster: LocalCluster) -> None:
    """A paused agent keeps its sockets open: only the heartbeat grace notices it."""
    _start(ha_cluster)
    ha_cluster.kill("node-2", signal.SIGSTOP)
    paused = time.monotonic()
    try:

        def not_ready() -> bool:
            client = admin(ha_cluster)
            try:
                return client.get_node("node-2").state.value == "not_ready"
            finally:
                client.close()

        eventually(not_ready, NODE_GRACE_S + 10, "node-2 NotReady")
        detected_s = time.monotonic() - paused
        assert detected_s >= NODE_GRACE_S - 0.5
    finally:
        ha_cluster.kill("node-2", signal.SIGCONT)
    check_invariants(ha_cluster, WORKLOADS)


def test_lose_etcd_quorum_then_recover(ha_cluster: LocalCluster) -> None:
    """Two of three etcd members die: no write can be made durable. A write is refused in
    bounded time, and the refusal says whether anything may still change (a proposal etcd
    took before it lost quorum can commit once it recovers). Reads are answered from the
    controllers' caches. Quorum back: one leader again, writes again, the invariants hold,
    and the refused write is either absent or whole, as its refusal said."""
    _start(ha_cluster)
    ha_cluster.kill("etcd-1")
    ha_cluster.kill("etcd-2")
    lost = time.monotonic()
    client = SyncClient.connect(
        ha_cluster.controller_address, config=ClientConfig(rpc_timeout_s=60)
    )
    try:
        with pytest.raises(AiwoError) as refused:
            client.register("during-quorum-loss", resources=Resources(gpus=1, milli_gpu=250))
    finally:
        client.close()
    refused_s = time.monotonic() - lost
    assert refused_s < 15, f"the refusal took {refused_s:.1f}s"  # lease 3 s + one etcd timeout
    message = str(refused.value)
    maybe_applied = "may still be applied" in message
    assert maybe_applied or "nothing was changed" in message, message
    reader = admin(ha_cluster)
    try:
        listed = {f"{w.namespace}/{w.name}" for w in reader.list_workloads()}
    finally:
        reader.close()
    assert set(WORKLOADS) <= listed and "default/during-quorum-loss" not in listed

    ha_cluster.respawn("etcd-1")
    ha_cluster.respawn("etcd-2")
    eventually(lambda: len(leaders(ha_cluster)) == 1, 30, "one leader once quorum is back")
    register_managed(ha_cluster, ["after-quorum"])
    check_invariants(ha_cluster, [*WORKLOADS, "default/after-quorum"])
    after = admin(ha_cluster)
    try:
        late = [w for w in after.list_workloads() if w.name == "during-quorum-loss"]
    finally:
        after.close()
    if not maybe_applied:
        assert late == [], "a write refused with 'nothing was changed' was applied"
    for workload in late:  # committed after all: a whole record, as any other
        assert workload.generation == 1 and workload.priority > 0
    print(f"quorum loss: refused after {refused_s:.1f}s ({message}); applied later: {bool(late)}")
