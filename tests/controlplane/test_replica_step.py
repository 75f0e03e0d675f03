"""The replica lifecycle's pure rules, as tables: no etcd, no sockets, no clock."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.leader.replica_step import (
    CRASH_LOOP,
    DRAINING,
    PENDING,
    READY,
    STARTING,
    ProcessFacts,
    ReplicaWorld,
    StepInput,
    endpoints_of,
    on_process_event,
    replace_backoff_s,
    replica_spec,
    step,
)
from sdk.pb.aiwo.v1 import serving_pb2, types_pb2

NOW = 10_000.0
PLACED = types_pb2.WORKLOAD_PHASE_RUNNING
PENDING_PHASE = types_pb2.WORKLOAD_PHASE_PENDING
FAILED_PHASE = types_pb2.WORKLOAD_PHASE_FAILED


def service(desired: int, *replicas: serving_pb2.Replica, **fields: Any) -> serving_pb2.Service:
    spec = serving_pb2.ServiceSpec(
        min_replicas=0,
        max_replicas=8,
        load_timeout_s=100,
        drain_grace_s=30,
        template=types_pb2.WorkloadSpec(launch=types_pb2.LaunchSpec(command=["srv"])),
    )
    return serving_pb2.Service(
        name="chat", namespace="default", spec=spec, desired=desired, replicas=replicas, **fields
    )


def replica(
    index: int, state: int, since: float = NOW - 10, endpoint: str = "", node: str = "n1"
) -> serving_pb2.Replica:
    return serving_pb2.Replica(
        workload=f"chat-{index}",
        index=index,
        state=state,  # type: ignore[arg-type]
        state_since_unix=since,
        endpoint=endpoint,
        node=node if state != PENDING else "",
    )


def placed(node: str = "n1", at: float = NOW - 10) -> ReplicaWorld:
    return ReplicaWorld(phase=PLACED, node=node, placed_unix=at)


def states(svc: serving_pb2.Service | None) -> list[tuple[str, int]]:
    assert svc is not None
    return [(r.workload, r.state) for r in svc.replicas]


def test_scale_out_creates_the_lowest_free_indices() -> None:
    svc = service(3, replica(1, READY, endpoint="h:1"))
    result = step(StepInput(svc, {"chat-1": placed()}), NOW)
    assert [r.workload for r in result.create] == ["chat-0", "chat-2"]
    assert states(result.service) == [("chat-0", PENDING), ("chat-1", READY), ("chat-2", PENDING)]
    assert result.remove == ()


def test_an_index_held_by_another_workload_is_skipped() -> None:
    result = step(StepInput(service(1), {}, taken=frozenset({"chat-0"})), NOW)
    assert [r.workload for r in result.create] == ["chat-1"]


def test_placement_and_node_change_drive_starting() -> None:
    svc = service(2, replica(0, PENDING), replica(1, READY, endpoint="h:1", node="n1"))
    world = {"chat-0": placed("n2"), "chat-1": placed("n3")}  # chat-1 moved (migrated)
    result = step(StepInput(svc, world), NOW)
    assert states(result.service) == [("chat-0", STARTING), ("chat-1", STARTING)]
    assert result.service is not None and result.service.replicas[1].endpoint == ""
    assert endpoints_of(result.service) == []


@pytest.mark.parametrize(
    ("replicas", "prefer", "drained_first"),
    [
        # Not serving goes before serving; among equals the highest index.
        ([replica(0, READY, endpoint="h:0"), replica(1, PENDING)], (), "chat-1"),
        ([replica(0, READY, endpoint="h:0"), replica(1, READY, endpoint="h:1")], (), "chat-1"),
        ([replica(0, READY, endpoint="h:0"), replica(1, CRASH_LOOP)], (), "chat-1"),
        # The autoscaler's pick (least in flight, frees a GPU) comes first.
        (
            [replica(0, READY, endpoint="h:0"), replica(1, READY, endpoint="h:1")],
            ("chat-0",),
            "chat-0",
        ),
    ],
)
def test_scale_in_picks_the_least_useful_replica(
    replicas: list[serving_pb2.Replica], prefer: tuple[str, ...], drained_first: str
) -> None:
    world = {
        r.workload: placed() if r.state != PENDING else ReplicaWorld(PENDING_PHASE)
        for r in replicas
    }
    result = step(StepInput(service(1, *replicas), world, prefer_remove=prefer), NOW)
    assert result.service is not None
    chosen = [r for r in result.service.replicas if r.state == DRAINING]
    never_served = [r.workload for r in replicas if r.workload == drained_first and not r.endpoint]
    if never_served:  # it never took traffic: stopped at once, no drain needed
        assert result.remove == (drained_first,) and chosen == []
    else:
        assert [r.workload for r in chosen] == [drained_first] and result.remove == ()


@pytest.mark.parametrize(
    ("since", "drained", "stopped"),
    [
        (NOW - 5, frozenset(), False),  # requests in flight, grace not over: keep draining
        (NOW - 5, frozenset({"chat-1"}), True),  # the gateways report nothing in flight
        (NOW - 31, frozenset(), True),  # drain_grace_s (30) passed
    ],
)
def test_a_draining_replica_stops_when_drained_or_after_the_grace(
    since: float, drained: frozenset[str], stopped: bool
) -> None:
    svc = service(
        1, replica(0, READY, endpoint="h:0"), replica(1, DRAINING, since=since, endpoint="h:1")
    )
    result = step(StepInput(svc, {"chat-0": placed(), "chat-1": placed()}, drained=drained), NOW)
    assert (result.remove == ("chat-1",)) is stopped
    assert result.create == ()  # a draining replica is never replaced while it drains
    assert [r.workload for r in result.service.replicas] == (  # type: ignore[union-attr]
        ["chat-0"] if stopped else ["chat-0", "chat-1"]
    )


def test_not_ready_within_the_load_timeout_is_replaced_and_counted() -> None:
    svc = service(1, replica(0, STARTING))
    result = step(StepInput(svc, {"chat-0": placed(at=NOW - 101)}), NOW)
    assert result.remove == ("chat-0",)
    assert result.service is not None and result.service.replicas_failed == 1
    # The replacement waits for the backoff: no storm of new replicas.
    assert result.create == () and result.service.replace_after_unix == NOW + replace_backoff_s(1)
    later = step(StepInput(result.service, {}), result.service.replace_after_unix)
    # Its workload was deleted with the decision: the index is free again.
    assert [r.workload for r in later.create] == ["chat-0"]


def test_a_crash_loop_is_shown_and_adds_no_replicas() -> None:
    svc = service(1, replica(0, CRASH_LOOP))
    svc.replicas[0].message = "crash loop: exited with code 1, restarted 3 times"
    result = step(StepInput(svc, {"chat-0": placed(at=NOW - 50)}), NOW)
    assert result.create == () and result.remove == ()
    assert result.service is not None and "crash loop" in result.service.message


def test_an_ended_replica_is_replaced_and_a_vanished_one_dropped() -> None:
    svc = service(2, replica(0, STARTING), replica(1, READY, endpoint="h:1"))
    world = {"chat-0": ReplicaWorld(FAILED_PHASE, message="start failed on n1")}
    result = step(StepInput(svc, world), NOW)
    assert result.remove == ("chat-0",)
    assert result.service is not None and result.service.replicas == []
    assert {e.kind for e in result.events} == {"replica_ended", "replica_lost"}


def test_a_deleted_service_drains_everything_then_goes() -> None:
    svc = service(2, replica(0, READY, endpoint="h:0"), replica(1, PENDING), deleting=True)
    world = {"chat-0": placed(), "chat-1": ReplicaWorld(PENDING_PHASE)}
    first = step(StepInput(svc, world), NOW)
    assert first.remove == ("chat-1",) and states(first.service) == [("chat-0", DRAINING)]
    assert first.service is not None and endpoints_of(first.service) == []
    last = step(StepInput(first.service, world, drained=frozenset({"chat-0"})), NOW + 1)
    assert last.service is None and last.remove == ("chat-0",)


def test_an_unchanged_world_is_no_write() -> None:
    svc = service(1, replica(0, READY, endpoint="h:0"))
    svc.ready = 1
    result = step(StepInput(svc, {"chat-0": placed()}), NOW)
    assert not result.changed and result.create == () and result.remove == ()


@pytest.mark.parametrize(
    ("state", "since", "facts", "after"),
    [
        (STARTING, NOW - 5, ProcessFacts("chat-0", "ready", port=8100, host="h"), READY),
        (READY, NOW - 5, ProcessFacts("chat-0", "unready"), STARTING),
        (
            STARTING,
            NOW - 5,
            ProcessFacts("chat-0", "exited", "restarting", exit_text="exited with code 1"),
            CRASH_LOOP,
        ),
        (
            READY,
            NOW - 600,  # served ten minutes, then died: a restart, not a crash loop
            ProcessFacts("chat-0", "exited", "restarting", exit_text="exited with code 1"),
            STARTING,
        ),
        (CRASH_LOOP, NOW - 5, ProcessFacts("chat-0", "ready", port=8101, host="h"), READY),
    ],
)
def test_process_events(state: int, since: float, facts: ProcessFacts, after: int) -> None:
    svc = service(1, replica(0, state, since=since, endpoint="h:1" if state == READY else ""))
    updated = on_process_event(svc, facts, NOW)
    assert updated is not None and updated.replicas[0].state == after
    if after == READY:
        assert updated.replicas[0].endpoint == f"h:{facts.port}" and updated.ready == 1


@pytest.mark.parametrize(
    "facts",
    [
        ProcessFacts("chat-0", "ready", port=8100, host="h"),  # re-sent after a reconnect
        ProcessFacts("chat-0", "ready", port=8100, host="h", on_placed_node=False),
        ProcessFacts("chat-9", "ready", port=8100, host="h"),  # not a replica of this service
    ],
)
def test_events_that_change_nothing(facts: ProcessFacts) -> None:
    svc = service(1, replica(0, READY, endpoint="h:8100"))
    svc.ready = 1
    assert on_process_event(svc, facts, NOW) is None


def test_a_draining_replica_ignores_ready() -> None:
    svc = service(0, replica(0, DRAINING, endpoint="h:1"))
    assert on_process_event(svc, ProcessFacts("chat-0", "ready", port=2, host="h"), NOW) is None


def test_the_replica_spec_is_the_template_marked_as_a_replica() -> None:
    svc = service(1)
    svc.spec.health_path = "/ready"
    spec = replica_spec(svc, 4)
    assert spec.service == "chat" and spec.labels["aiwo.service"] == "chat"
    assert spec.launch.serve and spec.launch.health_path == "/ready"
    assert spec.launch.env["AIWO_REPLICA"] == "4" and spec.launch.command == ["srv"]
    assert spec.launch.restart_policy == types_pb2.RESTART_POLICY_ON_FAILURE


def _report(gateway: str, now: float, **replicas: tuple[int, bool]) -> object:
    from sdk.pb.aiwo.v1 import gateway_pb2

    return gateway_pb2.TrafficReport(
        gateway=gateway,
        time_unix=now,
        interval_s=1.0,
        services=[
            gateway_pb2.ServiceTraffic(
                namespace="default",
                name="chat",
                replicas=[
                    gateway_pb2.ReplicaTraffic(replica=name, in_flight=n, draining=d)
                    for name, (n, d) in replicas.items()
                ],
            )
        ],
    )


def test_drained_needs_every_gateway_to_have_the_replica_out_and_idle() -> None:
    from controlplane.view.traffic import TrafficStore

    store = TrafficStore()
    store.start_listening(NOW - 100)
    known = {"default/chat"}
    since = NOW
    store.add(_report("g1", since + 2, **{"chat-1": (0, False)}), since + 2, known)  # type: ignore[arg-type]
    assert not store.drained("default/chat-1", since, since + 2)  # a bare 0: still listed
    store.add(_report("g1", since + 3, **{"chat-1": (2, True)}), since + 3, known)  # type: ignore[arg-type]
    assert not store.drained("default/chat-1", since, since + 3)  # out, requests in flight
    store.add(_report("g1", since + 4, **{"chat-1": (0, True)}), since + 4, known)  # type: ignore[arg-type]
    assert store.drained("default/chat-1", since, since + 4)
    # A second gateway that still lists it holds the stop back; once it drops it, it is done.
    store.add(_report("g2", since + 4, **{"chat-1": (0, False)}), since + 4, known)  # type: ignore[arg-type]
    assert not store.drained("default/chat-1", since, since + 4)
    store.add(_report("g2", since + 5), since + 5, known)  # type: ignore[arg-type]
    store.add(_report("g1", since + 5), since + 5, known)  # type: ignore[arg-type]
    assert store.drained("default/chat-1", since, since + 5)
    # With no gateway reporting at all, a drain waits out the silence window.
    quiet = TrafficStore()
    quiet.start_listening(NOW)
    assert not quiet.drained("default/chat-1", NOW, NOW + 5)
    assert quiet.drained("default/chat-1", NOW, NOW + 15)


def test_a_ready_replica_on_a_silent_node_leaves_the_endpoints() -> None:
    svc = service(1, replica(0, READY, endpoint="h:0"))
    world = {"chat-0": ReplicaWorld(PLACED, node="n1", placed_unix=NOW - 10, node_ready=False)}
    result = step(StepInput(svc, world), NOW)
    assert states(result.service) == [("chat-0", STARTING)]
    assert result.service is not None and endpoints_of(result.service) == []
    assert result.remove == () and result.create == ()  # not replaced: it may come back
    back = on_process_event(result.service, ProcessFacts("chat-0", "ready", port=1, host="h"), NOW)
    assert back is not None and endpoints_of(back) == [("chat-0", "h:1")]
    # The node heartbeats again without its agent reconnecting: routable again as it was.
    again = step(StepInput(result.service, {"chat-0": placed()}), NOW + 5)
    assert again.service is not None and endpoints_of(again.service) == [("chat-0", "h:0")]
