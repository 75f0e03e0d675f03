"""The energy pass locks the SM clock on GPUs that serve decode (docs/gpu-model.md §5): power
falls, decode speed barely does; next to batch work the lock keeps the batch budget; batch-only
GPUs keep caps, an SLO breach lifts the lock."""

from __future__ import annotations

from controlplane.optimizer.runtime import LockClocks, ResetClocks, RuntimeConfig, SetPowerCap
from gpumodel import perf
from tests.optimizer.runtime.builders import Loop, gpu, gpu_settings, job, ls, snap, with_p99


def locks(plans) -> list[tuple[str, int | None]]:  # type: ignore[no-untyped-def]
    return [
        lock
        for p in plans
        for lock in gpu_settings(p.actions, LockClocks, ResetClocks, lambda a: a.max_mhz)
    ]


def test_decode_only_gpu_gets_a_clock_lock_within_the_slowdown_bound() -> None:
    s = snap(gpu("n1", 0, ls("a", p99=10.0, milli=1000), power=220.0))
    loop = Loop()
    got = locks(loop.run(s, 300.0))
    assert len(got) == 1
    where, mhz = got[0]
    assert where == "n1/0" and mhz is not None and mhz < 1410
    assert perf.decode_time_factor(mhz / 1410) <= RuntimeConfig().energy_decode_max_slowdown
    assert locks(loop.run(s, 300.0)) == []  # held, not re-sent


def test_no_lock_when_p99_has_no_room_and_none_next_to_batch_by_default() -> None:
    tight = snap(gpu("n1", 0, ls("a", p99=69.95, target=100.0, milli=1000), power=220.0))
    assert locks(Loop().run(tight, 300.0)) == []  # 69.95 ms leaves no room under 0.7 x target
    mixed = snap(gpu("n1", 0, ls("a", p99=10.0), job("b"), power=300.0))
    assert locks(Loop().run(mixed, 300.0)) == []  # off by default


def test_decode_next_to_batch_work_is_locked_no_lower_than_the_batch_budget() -> None:
    """Batch work runs at the lock's ratio (compute-bound): the lock keeps what the budget
    allows (0.82 with no relief in force), where decode alone would go lower; no cap."""
    mixed = snap(gpu("n1", 0, ls("a", p99=10.0), job("b"), power=300.0))
    loop = Loop(RuntimeConfig(energy_decode_shared_lock=True, energy_decode_max_slowdown=1.05))
    plans = loop.run(mixed, 300.0)
    got = locks(plans)
    assert len(got) == 1
    where, mhz = got[0]
    assert where == "n1/0" and mhz is not None
    keep = RuntimeConfig().energy_batch_floor
    assert keep <= mhz / 1410 < keep + 0.02
    assert not any(isinstance(a, SetPowerCap) for p in plans for a in p.actions)
    alone = locks(
        Loop(RuntimeConfig(energy_decode_shared_lock=True, energy_decode_max_slowdown=1.05)).run(
            snap(gpu("n1", 0, ls("a", p99=10.0, milli=1000))), 300.0
        )
    )
    assert alone[0][1] is not None and alone[0][1] < mhz  # decode alone: a deeper lock


def test_breach_lifts_the_decode_lock_and_it_can_be_turned_off() -> None:
    s = snap(gpu("n1", 0, ls("a", p99=10.0, milli=1000), power=220.0))
    loop = Loop()
    assert len(locks(loop.run(s, 300.0))) == 1
    lifted = [(w, m) for w, m in locks(loop.run(with_p99(s, a=150.0), 30.0)) if m is None]
    assert lifted == [("n1/0", None)]
    off = Loop(RuntimeConfig(energy_decode_max_slowdown=1.0))
    plans = off.run(s, 300.0)
    assert locks(plans) == []
    assert not any(isinstance(a, SetPowerCap) for p in plans for a in p.actions)


def test_the_lock_leaves_room_for_prefill_which_runs_at_the_locks_ratio() -> None:
    """A p99 at 0.5 x target leaves room 1.4 under the relax ratio: decode alone would go to
    r ~ 0.67 (x1.05); prefill, compute-bound, bounds it at 1 / 1.4 ~ 0.72."""
    s = snap(gpu("n1", 0, ls("a", p99=50.0, target=100.0, milli=1000), power=220.0))
    config = RuntimeConfig(energy_decode_max_slowdown=1.05)
    got = locks(Loop(config).run(s, 300.0))
    assert len(got) == 1 and got[0][1] is not None
    assert got[0][1] / 1410 >= 1.0 / 1.4
    free = locks(Loop(config).run(with_p99(s, a=10.0), 300.0))
    assert free[0][1] is not None and free[0][1] < got[0][1]
