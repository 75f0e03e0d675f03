"""The SLO guard's ladder, table-driven on small snapshots."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from controlplane.optimizer.runtime import (
    LADDER_STEPS,
    DirectiveThrottle,
    DirectiveUnthrottle,
    Migrate,
    ResetPowerCap,
    RuntimeConfig,
    SetPowerCap,
    ThrottleProcess,
    UnthrottleProcess,
)
from controlplane.optimizer.runtime.types import RuntimeSnapshot
from tests.optimizer.runtime.builders import Loop, gpu, job, ls, snap, with_p99

NO_ENERGY = RuntimeConfig(energy=False)
ISSUE_LADDER = RuntimeConfig(energy=False, ladder=LADDER_STEPS)  # with the power-cap rung


def kinds(plan) -> list[str]:  # type: ignore[no-untyped-def]
    return [type(a).__name__ for a in plan.actions]


def test_breach_climbs_the_ladder_one_rung_per_escalation_period() -> None:
    s = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")), gpu("n1", 1, job("c", milli=300)))
    loop = Loop(ISSUE_LADDER)
    seen = []
    for _ in range(6):
        seen.append(kinds(loop.step(s, dt=15.0)))
    assert seen[0] == ["DirectiveThrottle"]
    assert seen[1] == ["SetPowerCap"]
    assert seen[2] == ["ThrottleProcess"]
    assert seen[3] == ["Migrate"]
    assert seen[4] == [] and seen[5] == []  # top of the ladder: nothing more to do


def test_default_ladder_leaves_out_the_power_cap() -> None:
    s = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")), gpu("n1", 1, job("c", milli=300)))
    loop = Loop(NO_ENERGY)
    seen = [kinds(loop.step(s, dt=15.0)) for _ in range(4)]
    assert seen == [["DirectiveThrottle"], ["ThrottleProcess"], ["Migrate"], []]


def test_escalation_waits_for_the_last_rung_to_show() -> None:
    s = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")))
    loop = Loop(NO_ENERGY)
    assert kinds(loop.step(s)) == ["DirectiveThrottle"]
    assert kinds(loop.step(s, dt=9.0)) == []  # escalate_after_s: 10 s
    assert kinds(loop.step(s, dt=1.0)) == ["ThrottleProcess"]


def test_reason_carries_the_numbers() -> None:
    s = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")))
    action = Loop(NO_ENERGY).step(s).actions[0]
    assert isinstance(action, DirectiveThrottle)
    assert action.workload == "ns/b" and action.factor == 0.5
    assert action.reason.code == "slo_relief_escalated"
    assert action.reason.field("p99_ms") == 150.0
    assert action.reason.field("target_ms") == 100.0
    assert action.reason.field("rung") == "throttle"


@pytest.mark.parametrize(
    ("neighbour", "acted"),
    [
        (job("b", priority=100), True),  # lower priority: a victim
        (job("b", priority=800), False),  # same priority: not ours to throttle
        (job("b", priority=900), False),  # higher priority: never
    ],
)
def test_only_lower_priority_neighbours_get_relief(neighbour, acted) -> None:  # type: ignore[no-untyped-def]
    s = snap(gpu("n1", 0, ls("a", p99=150.0, priority=800), neighbour))
    assert bool(Loop(NO_ENERGY).step(s).actions) is acted


@pytest.mark.parametrize(
    ("p99", "acted"),
    [(150.0, True), (100.0, True), (91.0, True), (90.0, False), (70.0, False), (None, False)],
)
def test_acts_within_ten_percent_of_the_target(p99, acted) -> None:  # type: ignore[no-untyped-def]
    s = snap(gpu("n1", 0, ls("a", p99=p99), job("b")))
    assert bool(Loop(NO_ENERGY).step(s).actions) is acted


def test_relief_is_undone_rung_by_rung_after_a_minute_of_slack() -> None:
    hot = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")))
    loop = Loop(RuntimeConfig(energy=False, ladder=("throttle", "power_cap", "process_throttle")))
    for _ in range(3):
        loop.step(hot, dt=15.0)
    cool = with_p99(hot, a=50.0)
    undone = [a for p in loop.run(cool, 400.0) for a in p.actions]
    assert [type(a) for a in undone] == [UnthrottleProcess, ResetPowerCap, DirectiveUnthrottle]


def test_hysteresis_band_holds_relief() -> None:
    hot = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")))
    loop = Loop(NO_ENERGY)
    loop.step(hot)
    band = with_p99(hot, a=80.0)  # between 0.7 and 0.9 x target
    assert all(not p.actions for p in loop.run(band, 600.0))


def test_stale_p99_keeps_relief_and_says_why() -> None:
    hot = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")))
    loop = Loop(NO_ENERGY)
    loop.step(hot)
    stale = with_p99(hot, a=None)
    plans = loop.run(stale, 600.0)
    assert all(not p.actions for p in plans)
    verdict = plans[-1].verdicts[0]
    assert verdict.state.value == "unknown"
    assert "neither meeting nor breaking" in verdict.reason.message
    assert any("unknown" in n for n in plans[-1].notes)


def test_no_migration_without_a_gpu_with_room() -> None:
    s = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")), gpu("n1", 1, job("c", milli=1000)))
    loop = Loop(NO_ENERGY)
    acts = [a for p in loop.run(s, 120.0, period=15.0) for a in p.actions]
    assert not any(isinstance(a, Migrate) for a in acts)
    assert any(isinstance(a, ThrottleProcess) for a in acts)


def test_migration_names_the_gpu_with_room() -> None:
    s = snap(
        gpu("n1", 0, ls("a", p99=150.0), job("b")),
        gpu("n1", 1, ls("x", p99=50.0, milli=300)),  # an SLO above b: not a target
        gpu("n2", 0, job("c", milli=500)),
    )
    loop = Loop(RuntimeConfig(energy=False, ladder=("migrate",)))
    (action,) = loop.step(s).actions
    assert isinstance(action, Migrate)
    assert action.away_from == ("n1", 0) and action.target == ("n2", 0)


def test_a_moved_neighbour_gets_its_relief_back_at_once() -> None:
    hot = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")), gpu("n1", 1))
    loop = Loop(NO_ENERGY)
    loop.step(hot)
    moved = snap(gpu("n1", 0, ls("a", p99=150.0)), gpu("n1", 1, job("b")))
    assert kinds(loop.step(moved, dt=5.0)) == ["DirectiveUnthrottle"]


def test_guard_cap_is_a_clock_lock_when_preferred() -> None:
    s = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")))
    loop = Loop(
        RuntimeConfig(
            energy=False, ladder=LADDER_STEPS, prefer_clock_lock=True, guard_cap_fraction=0.6
        )
    )
    loop.step(s)
    (action,) = loop.step(s, dt=15.0).actions
    assert type(action).__name__ == "LockClocks"
    assert action.max_mhz == round(0.6 * 1410)  # type: ignore[union-attr]


def test_guard_cap_value() -> None:
    s = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")))
    loop = Loop(ISSUE_LADDER)
    loop.step(s)
    (action,) = loop.step(s, dt=15.0).actions
    assert isinstance(action, SetPowerCap) and action.watts == 220.0  # 0.55 x 400 W


def test_relief_needed_again_soon_is_undone_more_slowly() -> None:
    hot = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")))
    cool = with_p99(hot, a=50.0)
    loop = Loop(RuntimeConfig(energy=False, ladder=("throttle",)))

    def undone_after(seconds: float) -> float:
        start = loop.now
        for _ in range(int(seconds / 5.0)):
            if loop.step(cool, dt=5.0).actions:
                return loop.now - start
        return math.inf

    loop.step(hot)
    assert undone_after(300.0) == 65.0  # slack from the first cool pass, then 60 s
    loop.step(hot, dt=5.0)  # needed again within ten minutes: back-off level 1
    assert undone_after(300.0) == 125.0
    loop.step(hot, dt=5.0)  # and again: level 2
    assert undone_after(600.0) == 245.0


def test_released_guard_cap_says_so() -> None:
    hot = snap(gpu("n1", 0, ls("a", p99=150.0), job("b")))
    loop = Loop(RuntimeConfig(energy=False, ladder=("power_cap",)))
    loop.step(hot)
    assert loop.caps == {("n1", 0): 220.0}
    plans = loop.run(with_p99(hot, a=50.0), 300.0)
    (reset,) = [a for p in plans for a in p.actions]
    assert isinstance(reset, ResetPowerCap)
    assert reset.reason.code == "slo_guard_cap_released"


def test_a_gpu_whose_node_changes_no_settings_skips_the_power_cap_rung() -> None:
    fixed = replace(gpu("n1", 0, ls("a", p99=150.0), job("b")), settable=False)
    s = snap(fixed, gpu("n1", 1, job("c", milli=300)))
    loop = Loop(ISSUE_LADDER)
    seen = [kinds(loop.step(s, dt=15.0)) for _ in range(4)]
    assert seen == [["DirectiveThrottle"], ["ThrottleProcess"], ["Migrate"], []]


def _left_throttled(p99: float) -> RuntimeSnapshot:
    """A job its node reports held to 30 % of its CPU, beside a service; no relief holds it
    (the leader that throttled it is gone)."""
    held = replace(job("b"), process_cpu_fraction=0.3)
    return snap(gpu("n1", 0, ls("a", p99=p99), held))


def test_an_unowned_throttle_is_undone_after_a_grace_and_resent_if_lost() -> None:
    loop = Loop(NO_ENERGY)
    s = _left_throttled(p99=50.0)  # the service has slack
    assert kinds(loop.step(s)) == []  # just seen: telemetry may lag our own undo
    plan = loop.step(s, dt=10.0)
    assert kinds(plan) == ["UnthrottleProcess"]
    assert plan.actions[0].reason.code == "throttle_unowned_undone"
    assert "held to 30% of its CPU" in plan.actions[0].reason.message
    assert kinds(loop.step(s, dt=20.0)) == []  # the agent has not reported it yet
    assert kinds(loop.step(s, dt=10.0)) == ["UnthrottleProcess"]  # lost: sent again
    freed = snap(gpu("n1", 0, ls("a", p99=50.0), job("b")))
    assert kinds(loop.step(freed, dt=5.0)) == []


def test_while_the_protected_service_breaks_the_ladder_owns_the_throttle() -> None:
    loop = Loop(NO_ENERGY)
    s = _left_throttled(p99=150.0)
    seen = [kinds(loop.step(s, dt=15.0)) for _ in range(3)]
    assert all("UnthrottleProcess" not in step for step in seen)
    assert seen[:2] == [["DirectiveThrottle"], ["ThrottleProcess"]]


def _left_directive_throttled(p99: float) -> RuntimeSnapshot:
    """A job whose app says it holds a cooperative throttle (half its load) that no relief
    holds: the leader that sent the directive is gone."""
    held = replace(job("b"), directive_factor=0.5)
    return snap(gpu("n1", 0, ls("a", p99=p99), held))


def test_an_unowned_cooperative_throttle_is_undone_after_a_grace_and_resent_if_lost() -> None:
    loop = Loop(NO_ENERGY)
    s = _left_directive_throttled(p99=50.0)
    assert kinds(loop.step(s)) == []
    plan = loop.step(s, dt=10.0)
    assert kinds(plan) == ["DirectiveUnthrottle"]
    assert plan.actions[0].reason.code == "directive_throttle_unowned_undone"
    assert "holds a throttle to 50% of normal load" in plan.actions[0].reason.message
    assert kinds(loop.step(s, dt=20.0)) == []  # the app has not reported since
    assert kinds(loop.step(s, dt=10.0)) == ["DirectiveUnthrottle"]  # lost: sent again
    freed = snap(gpu("n1", 0, ls("a", p99=50.0), job("b")))
    assert kinds(loop.step(freed, dt=5.0)) == []


def test_both_kinds_of_unowned_throttle_are_undone_side_by_side() -> None:
    loop = Loop(NO_ENERGY)
    held = replace(job("b"), directive_factor=0.5, process_cpu_fraction=0.0)
    s = snap(gpu("n1", 0, ls("a", p99=50.0), held))
    assert kinds(loop.step(s)) == []
    assert sorted(kinds(loop.step(s, dt=10.0))) == ["DirectiveUnthrottle", "UnthrottleProcess"]


def test_while_the_protected_service_breaks_the_ladder_owns_the_cooperative_throttle() -> None:
    loop = Loop(NO_ENERGY)
    s = _left_directive_throttled(p99=150.0)
    seen = [kinds(loop.step(s, dt=15.0)) for _ in range(3)]
    assert all("DirectiveUnthrottle" not in step for step in seen)
    assert seen[0] == ["DirectiveThrottle"]  # the ladder starts again, and owns it
