"""The energy pass: idle to minimum, caps toward the knee, lifted when an SLO needs it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controlplane.optimizer.runtime import ResetPowerCap, RuntimeConfig, SetPowerCap
from gpumodel import perf
from tests.optimizer.runtime.builders import Loop, gpu, gpu_settings, job, ls, snap, with_p99


def caps(plan) -> list[tuple[str, float | None]]:  # type: ignore[no-untyped-def]
    return gpu_settings(plan.actions, SetPowerCap, ResetPowerCap, lambda a: a.watts)


def settle(loop: Loop, s, seconds: float = 900.0) -> list:  # type: ignore[no-untyped-def]
    return [c for p in loop.run(s, seconds) for c in caps(p)]


def test_idle_gpu_goes_to_its_minimum_at_once() -> None:
    plan = Loop().step(snap(gpu("n1", 0)))
    assert caps(plan) == [("n1/0", 100.0)]
    assert plan.actions[0].reason.code == "energy_cap_idle"


def test_batch_gpu_comes_down_in_steps_to_the_knee() -> None:
    s = snap(gpu("n1", 0, job("a"), job("b"), power=400.0))
    seen = settle(Loop(), s)
    # No relief anywhere: the budget's keep is the floor, 0.82 (A100: P0 84 W, alpha 0.45).
    knee = perf.cap_for_throughput_w(0.82, 400.0, 84.0, 0.45)
    assert [w for _, w in seen] == [360.0, 320.0, 5 * -(-knee // 5)]
    assert seen[-1][1] == 290.0


@pytest.mark.parametrize(("keep", "cap"), [(0.95, 370.0), (0.9, 335.0), (0.85, 305.0)])
def test_keep_sets_the_knee(keep: float, cap: float) -> None:
    """The cap keeping `keep` on the A100 curve, rounded up to 5 W (docs/gpu-model.md §2)."""
    s = snap(gpu("n1", 0, job("a", milli=1000), power=400.0))
    config = RuntimeConfig(
        energy_batch_keep=keep, energy_batch_floor=0.0, energy_max_step_fraction=1.0
    )
    assert settle(Loop(config), s)[-1][1] == cap


# The energy pass caps a GPU serving an SLO only when a headroom is configured (default 0: never).
SLO_CAPS = RuntimeConfig(
    energy_slo_headroom=0.6, energy_batch_keep=0.85, energy_max_step_fraction=1.0
)


def test_by_default_no_energy_cap_slows_an_slo_workload() -> None:
    s = snap(
        gpu("n1", 0, ls("a", p99=10.0, milli=1000), power=220.0),
        gpu("n1", 1, ls("b", p99=10.0), job("c"), power=310.0),
    )
    assert settle(Loop(RuntimeConfig(energy_max_step_fraction=1.0)), s, 900.0) == []


def test_slo_gpu_is_capped_only_after_a_minute_of_slack_and_within_headroom() -> None:
    s = snap(gpu("n1", 0, ls("a", p99=30.0, milli=1000), power=220.0))
    loop = Loop(SLO_CAPS)
    first = [c for p in loop.run(s, 55.0) for c in caps(p)]
    assert first == []  # slack has not held a minute yet
    later = settle(loop, s, 120.0)
    assert len(later) == 1
    cap = later[0][1]
    # p99 30 ms vs 100: the cap may slow it to 60 ms (headroom 0.6), and keeps >= 85 % anyway.
    assert cap is not None
    thr = perf.throughput_factor(cap, 220.0, 84.0, 0.45)
    assert thr >= 0.85 and 30.0 / thr <= 60.0


def test_breach_lifts_the_cap_at_once_and_backs_off() -> None:
    s = snap(gpu("n1", 0, ls("a", p99=30.0, milli=1000), power=220.0))
    loop = Loop(SLO_CAPS)
    settle(loop, s, 300.0)
    assert loop.caps  # capped
    hot = with_p99(s, a=95.0)
    plan = loop.step(hot, dt=5.0)
    assert caps(plan) == [("n1/0", None)]
    assert plan.actions[0].reason.code == "energy_cap_lifted"
    calm = with_p99(s, a=30.0)
    assert settle(loop, calm, 500.0) == []  # energy_backoff_s: 600 s without an energy cap


def test_hold_band_and_unknown_p99_keep_the_cap() -> None:
    s = snap(gpu("n1", 0, ls("a", p99=30.0, milli=1000), power=220.0))
    loop = Loop(SLO_CAPS)
    settle(loop, s, 300.0)
    before = dict(loop.caps)
    assert before
    assert settle(loop, with_p99(s, a=80.0), 600.0) == []
    assert settle(loop, with_p99(s, a=None), 600.0) == []
    assert loop.caps == before


def test_energy_off_sets_nothing() -> None:
    s = snap(gpu("n1", 0), gpu("n1", 1, job("a", milli=1000), power=400.0))
    assert settle(Loop(RuntimeConfig(energy=False)), s) == []


def test_a_lost_cap_is_sent_again() -> None:
    s = snap(gpu("n1", 0))
    loop = Loop()
    loop.step(s)
    loop.caps.clear()  # the agent never applied it: the GPU still reports 400 W
    plan = loop.step(s, dt=31.0)
    assert caps(plan) == [("n1/0", 100.0)]
    assert plan.actions[0].reason.code == "power_cap_resent"


def test_unknown_gpu_model_uses_the_table_defaults() -> None:
    s = snap(gpu("n1", 0, job("a", milli=1000), model="X9000", power=400.0))
    seen = settle(Loop(RuntimeConfig(energy_max_step_fraction=1.0)), s)
    assert seen and 100.0 <= seen[-1][1] < 400.0  # type: ignore[operator]


def test_no_cap_is_planned_for_a_gpu_whose_node_changes_no_settings() -> None:
    idle = replace(gpu("n1", 0), settable=False)
    busy = replace(gpu("n1", 1, job("a"), job("b"), power=400.0), settable=False)
    assert settle(Loop(), snap(idle, busy)) == []


def test_a_cap_left_by_a_previous_leader_is_undone_when_nothing_wants_it() -> None:
    # A new leader remembers nothing: the cap the GPU reports is taken as its own.
    served = gpu("n1", 0, ls("a", p99=40.0), cap=200.0, power=200.0)
    loop = Loop()
    plan = loop.step(snap(served))
    assert [type(a).__name__ for a in plan.actions] == ["ResetPowerCap"]
    assert loop.step(snap(replace(served, power_cap_w=400.0)), dt=30.0).actions == ()


def test_only_a_real_cap_below_the_default_is_adopted() -> None:
    busy = gpu("n1", 0, ls("a", p99=40.0))
    assert Loop().step(snap(busy)).actions == ()  # at its default: nothing to undo
    unknown = replace(busy, power_cap_w=0.0)  # a backend that cannot read its limit
    assert Loop().step(snap(unknown)).actions == ()
