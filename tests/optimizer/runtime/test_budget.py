"""The batch budget: energy caps take only what the SLO guard leaves of the batch floor."""

from __future__ import annotations

import pytest

from controlplane.optimizer.runtime import Relief, ResetPowerCap, RuntimeConfig, SetPowerCap
from controlplane.optimizer.runtime.budget import batch_keep, relief_factor
from gpumodel import perf
from tests.optimizer.runtime.builders import Loop, gpu, job, ls, snap, with_p99


def relief(*rungs: str) -> Relief:
    return Relief(rungs, (("n1", 0),), 0.0, ("ns/s",))


def test_relief_factor_multiplies_the_rungs_in_force() -> None:
    config = RuntimeConfig()
    assert relief_factor(None, config) == 1.0
    assert relief_factor(relief("throttle"), config) == 0.5
    assert relief_factor(relief("throttle", "process_throttle"), config) == 0.125
    assert relief_factor(relief("throttle", "power_cap", "migrate"), config) == 0.5


def test_without_relief_the_keep_is_the_floor() -> None:
    s = snap(gpu("n1", 0, job("a"), job("b")), gpu("n1", 1, job("c", milli=1000)))
    assert batch_keep(s, {}, RuntimeConfig()) == pytest.approx(0.82)
    # ... never below the deepest cap of one GPU
    assert batch_keep(s, {}, RuntimeConfig(energy_batch_keep=0.9)) == 0.9


@pytest.mark.parametrize(
    ("rungs", "keep"),
    [
        (("throttle",), 0.82 * 2000 / 1750),  # 500 milli at half speed
        (("throttle", "process_throttle"), 1.0),  # 0.82 * 2000 / 1562.5 > 1: nothing left
    ],
)
def test_the_guards_relief_is_spent_first(rungs: tuple[str, ...], keep: float) -> None:
    s = snap(
        gpu("n1", 0, ls("s"), job("a")),
        gpu("n1", 1, job("b"), job("c")),
        gpu("n1", 2, job("d")),
    )
    assert batch_keep(s, {"ns/a": relief(*rungs)}, RuntimeConfig()) == pytest.approx(keep)


def test_no_batch_work_no_budget() -> None:
    assert batch_keep(snap(gpu("n1", 0, ls("s"))), {}, RuntimeConfig()) == 1.0
    assert batch_keep(snap(), {}, RuntimeConfig()) == 1.0


def test_an_energy_cap_is_lifted_when_the_guard_needs_the_budget() -> None:
    """A batch-only GPU is capped to the floor; a breach elsewhere throttles a job there, and
    the batch GPU's cap comes up so that the cluster keeps its floor."""
    s = snap(
        gpu("n1", 0, ls("svc", p99=50.0), job("a"), power=310.0),
        gpu("n1", 1, job("b"), job("c"), power=400.0),
    )
    loop = Loop(RuntimeConfig(energy_max_step_fraction=1.0))
    loop.run(s, 300.0)
    knee = perf.cap_for_throughput_w(0.82, 400.0, 84.0, 0.45)
    assert loop.caps[("n1", 1)] == 5 * -(-knee // 5)
    hot = with_p99(s, svc=150.0)
    plans = loop.run(hot, 80.0)  # throttle, then process throttle 10 s later
    seen = [
        a.watts if isinstance(a, SetPowerCap) else None
        for p in plans
        for a in p.actions
        if isinstance(a, SetPowerCap | ResetPowerCap) and a.gpu == 1
    ]
    # throttled, a keeps half of its 500 milli: keep 0.82 x 1500 / 1250 = 0.984 at once; then
    # 1/8 of it: 0.82 x 1500 / 1062.5 > 1, and the cap goes a minute after its last change
    up = perf.cap_for_throughput_w(0.82 * 1500 / 1250, 400.0, 84.0, 0.45)
    assert seen == [5 * -(-up // 5), None]
    assert ("n1", 1) not in loop.caps
