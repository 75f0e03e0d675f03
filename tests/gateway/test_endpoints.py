"""The routing table as tables: updates, least outstanding, ejection, drain."""

from __future__ import annotations

import random

import pytest

from gateway.endpoints import EndpointsChange, EndpointSpec, EndpointTable, ServiceSpec

SVC = ("default", "chat")


def change(*services: tuple[str, dict[str, str], int], snapshot: bool = False) -> EndpointsChange:
    return EndpointsChange(
        snapshot,
        tuple(
            ServiceSpec(
                "default", name, tuple(EndpointSpec(r, a) for r, a in eps.items()), max_replicas
            )
            for name, eps, max_replicas in services
        ),
    )


def table(endpoints: dict[str, str]) -> EndpointTable:
    t = EndpointTable(random.Random(7))
    t.apply(change(("chat", endpoints, 4), snapshot=True))
    return t


def test_snapshot_forgets_unlisted_services_and_marks_synced() -> None:
    t = EndpointTable()
    assert not t.synced
    t.apply(change(("a", {"a-0": "h:1"}, 2), ("b", {}, 2), snapshot=True))
    assert t.synced and t.known(("default", "a")) and t.known(("default", "b"))
    assert t.has_listed(("default", "a")) and not t.has_listed(("default", "b"))
    t.apply(change(("b", {}, 2), snapshot=True))
    assert not t.known(("default", "a")) and t.known(("default", "b"))


def test_max_replicas_zero_deletes() -> None:
    t = table({"r": "h:1"})
    t.apply(change(("chat", {}, 0)))
    assert not t.known(SVC) and t.services() == []


@pytest.mark.parametrize(
    ("in_flight", "expected"),
    [
        ({"a": 0, "b": 1, "c": 2}, {"a"}),
        ({"a": 3, "b": 1, "c": 1}, {"b", "c"}),
        ({"a": 5, "b": 5, "c": 4}, {"c"}),
        ({"a": 0, "b": 0, "c": 0}, {"a", "b", "c"}),
    ],
)
def test_pick_least_outstanding_ties_spread(in_flight: dict[str, int], expected: set[str]) -> None:
    t = table({"a": "h:1", "b": "h:2", "c": "h:3"})
    for each in t.replicas(SVC):
        each.in_flight = in_flight[each.name]
    picked = set()
    for _ in range(60):
        replica = t.pick(SVC, 0.0)
        assert replica is not None
        picked.add(replica.name)
    assert picked == expected  # every tied replica gets some, no other does


def test_eject_until_time_even_if_relisted() -> None:
    t = table({"a": "h:1", "b": "h:2"})
    a = next(r for r in t.replicas(SVC) if r.name == "a")
    t.eject(a, now_s=100.0, for_s=10.0)
    assert {t.pick(SVC, 105.0).name for _ in range(20)} == {"b"}  # type: ignore[union-attr]
    t.apply(change(("chat", {"a": "h:1", "b": "h:2"}, 4)))  # the controller lists it again
    assert {t.pick(SVC, 105.0).name for _ in range(20)} == {"b"}  # type: ignore[union-attr]
    assert t.next_ejection_end_s(SVC, 105.0) == 110.0
    assert "a" in {t.pick(SVC, 110.0).name for _ in range(40)}  # type: ignore[union-attr]


def test_a_replica_restarted_on_a_new_address_is_a_new_replica() -> None:
    t = table({"a": "h:1"})
    old = t.replicas(SVC)[0]
    t.eject(old, 0.0, 100.0)
    t.apply(change(("chat", {"a": "h:9"}, 4)))
    new = t.pick(SVC, 1.0)
    assert new is not None and new.address == "h:9" and new is not old


def test_drain_keeps_a_busy_replica_until_its_last_request() -> None:
    t = table({"a": "h:1", "b": "h:2"})
    a = next(r for r in t.replicas(SVC) if r.name == "a")
    t.start(a)
    t.start(a)
    t.apply(change(("chat", {"b": "h:2"}, 4)))
    assert not a.listed and a in t.replicas(SVC)  # draining, still counted
    assert {t.pick(SVC, 0.0).name for _ in range(20)} == {"b"}  # type: ignore[union-attr]
    t.finish(a)
    assert a in t.replicas(SVC) and t.take_forgotten() == []
    t.finish(a)
    assert a not in t.replicas(SVC)
    assert t.take_forgotten() == [a] and t.take_forgotten() == []


def test_an_idle_replica_leaving_is_forgotten_at_once() -> None:
    t = table({"a": "h:1", "b": "h:2"})
    t.apply(change(("chat", {"b": "h:2"}, 4)))
    assert [r.name for r in t.replicas(SVC)] == ["b"]
    assert [r.name for r in t.take_forgotten()] == ["a"]


def test_deleted_service_drains_then_disappears() -> None:
    t = table({"a": "h:1"})
    a = t.replicas(SVC)[0]
    t.start(a)
    t.apply(change(("chat", {}, 0)))
    assert not t.known(SVC) and t.pick(SVC, 0.0) is None
    assert t.services() == [SVC]  # still reported while its request runs
    t.finish(a)
    assert t.services() == []


def test_relisted_while_draining_takes_requests_again() -> None:
    t = table({"a": "h:1"})
    a = t.replicas(SVC)[0]
    t.start(a)
    t.apply(change(("chat", {}, 4)))
    assert t.pick(SVC, 0.0) is None
    t.apply(change(("chat", {"a": "h:1"}, 4)))
    assert t.pick(SVC, 0.0) is a


def test_exclude_addresses() -> None:
    t = table({"a": "h:1", "b": "h:2"})
    assert t.pick(SVC, 0.0, frozenset({"h:1"})).name == "b"  # type: ignore[union-attr]
    assert t.pick(SVC, 0.0, frozenset({"h:1", "h:2"})) is None
