"""plan_runtime as a whole: purity, the rate bound, and no flapping in a steady load."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest

from controlplane.optimizer.runtime import (
    RuntimeConfig,
    RuntimeMemory,
    RuntimeSnapshot,
    action_target,
    plan_runtime,
)
from tests.optimizer.runtime.builders import Loop, gpu, job, ls, snap


def fleet(n: int) -> RuntimeSnapshot:
    """n GPUs: a service breaking its SLO next to a training job on each."""
    return snap(*(gpu(f"n{i // 8}", i % 8, ls(f"s{i}", p99=150.0), job(f"b{i}")) for i in range(n)))


def test_same_inputs_same_plan_and_memory_is_not_mutated() -> None:
    s = fleet(4)
    memory = RuntimeMemory()
    a = plan_runtime(s, memory, 1000.0, RuntimeConfig())
    b = plan_runtime(s, memory, 1000.0, RuntimeConfig())
    assert a == b
    assert memory == RuntimeMemory()
    with pytest.raises(TypeError):
        a[1].relief["x"] = None  # type: ignore[index]


def test_rate_bound_defers_the_rest_and_slo_relief_goes_first() -> None:
    s = snap(
        *(gpu("n1", i) for i in range(6)),  # six idle GPUs want their minimum cap
        gpu("n2", 0, ls("s", p99=150.0), job("b")),
    )
    loop = Loop(RuntimeConfig(max_actions_per_minute=5, ladder=("throttle",)))
    plan = loop.step(s)
    assert len(plan.actions) == 5
    assert type(plan.actions[0]).__name__ == "DirectiveThrottle"  # relief before energy
    assert plan.deferred == 2
    assert any("deferred" in n for n in plan.notes)
    assert loop.step(s, dt=30.0).actions == ()  # still 5 in the last 60 s
    later = loop.step(s, dt=31.0)
    assert {action_target(a) for a in later.actions} == {"gpu/n1/4", "gpu/n1/5"}


@pytest.mark.parametrize(("per_gpu", "taken"), [(0.1, 300), (0.0, 120), (0.01, 120)])
def test_rate_bound_grows_with_the_fleet(per_gpu: float, taken: int) -> None:
    """3,000 idle GPUs: a fixed 120 a minute would take 25 minutes to cap them all."""
    s = snap(*(gpu(f"n{i // 8}", i % 8) for i in range(3000)))
    plan = Loop(RuntimeConfig(max_actions_per_gpu_minute=per_gpu)).step(s)
    assert len(plan.actions) == taken
    assert plan.deferred == 3000 - taken
    assert any(f"{taken} actions per minute" in n for n in plan.notes)


@pytest.mark.parametrize("p99", [150.0, 80.0, 50.0, None])
def test_steady_load_changes_nothing_more_than_once_a_minute(p99: float | None) -> None:
    """Whatever the (constant) p99, no GPU cap and no workload throttle flaps."""
    s = snap(
        gpu("n1", 0, ls("a", p99=p99), job("b"), power=310.0),
        gpu("n1", 1, job("c", milli=1000), power=400.0),
        gpu("n1", 2),
        gpu("n1", 3, job("d", milli=300)),
    )
    loop = Loop(RuntimeConfig())
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _ in range(360):  # half an hour at the controller's 5 s period
        plan = loop.step(s, dt=5.0)
        for a in plan.actions:
            kind = type(a).__name__.replace("Un", "").replace("Reset", "Set")
            times[(action_target(a), kind)].append(loop.now)
    for key, ts in times.items():
        gaps = [b - a for a, b in itertools.pairwise(ts)]
        assert all(g >= 60.0 for g in gaps if "Throttle" in key[1] or "Cap" in key[1]), key
    # ... and it settles: nothing changes in the last ten minutes.
    assert all(t <= loop.now - 600.0 for ts in times.values() for t in ts)


def test_a_leader_change_starts_from_empty_memory_and_converges() -> None:
    s = snap(gpu("n1", 0, job("c", milli=1000), power=400.0))
    loop = Loop()
    loop.run(s, 600.0)
    capped = dict(loop.caps)
    loop.memory = RuntimeMemory()  # a new leader
    loop.run(s, 600.0)
    assert loop.caps == capped
