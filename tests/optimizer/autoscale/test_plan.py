"""plan_scale, one behaviour per test: steady load, bursts, pinned, room, zero, no SLO, bounds."""

from __future__ import annotations

import pytest

from controlplane.optimizer.autoscale import AutoscaleConfig, AutoscaleMemory, ScaleDecision

from .builders import World, direction_changes, plan_one, ready, replica, sample, service


def test_steady_load_holds_once_learned() -> None:
    # 100 req/s on replicas that carry 10 each within the SLO; the core starts from its
    # conservative prior (1 req/s per replica) and learns.
    world = World(rate=lambda t: 100.0, capacity_rps=10.0).start_with(2)
    world.run(3600)
    breaches_before, served_before = world.breaches, world.served
    tail = world.run(1800)
    counts = [d.current for d in tail]
    assert min(counts) >= 10  # never fewer than the load needs
    assert max(counts) - min(counts) <= 2
    assert len(direction_changes(tail)) <= 1
    missed = (world.breaches - breaches_before) / (world.served - served_before)
    assert missed < 0.01


def test_burst_panics_and_scales_out_within_seconds() -> None:
    config = AutoscaleConfig(prior_rate_per_replica_rps=10.0)
    world = World(rate=lambda t: 20.0 if t <= 600 else 120.0, config=config).start_with(3)
    world.run(600)
    before = world.decisions[-1].current
    assert before <= 4
    burst = world.run(6)
    panicked = [d for d in burst if d.fields["panic"] == "true"]
    assert panicked, "no panic within 6 s of a 6x burst"
    assert max(d.desired for d in burst) >= 12  # 120 req/s at ~10 per replica
    assert "panic" in panicked[0].reason
    # No scale-in while panicking, even once the burst is over.
    world.rate = lambda t: 20.0
    after = world.run(50)
    assert all(d.desired >= d.current for d in after)


@pytest.mark.parametrize(
    ("pinned", "ready_now", "lo", "hi", "desired", "removed"),
    [
        (3, 5, 0, 10, 3, 2),
        (10, 2, 0, 6, 6, 0),  # clamped to max
        (0, 2, 1, 6, 1, 1),  # clamped to min
        (4, 4, 0, 10, 4, 0),
    ],
)
def test_pinned(pinned: int, ready_now: int, lo: int, hi: int, desired: int, removed: int) -> None:
    memory = AutoscaleMemory()
    view = service(ready(ready_now), (sample(1.0, 500, ttft_ms=9000.0),), pinned=pinned,
                   min_replicas=lo, max_replicas=hi)  # fmt: skip
    d = plan_one(view, memory, 1.0)
    assert (d.desired, len(d.remove)) == (desired, removed)
    assert "pinned" in d.reason


def test_room_caps_desired_and_says_why_without_oscillating() -> None:
    memory = AutoscaleMemory()
    config = AutoscaleConfig(prior_rate_per_replica_rps=1.0)
    replicas = ready(2)
    # TTFT at 95 % of its target: at the edge, so the prior is neither raised nor cut.
    d = plan_one(service(replicas, (sample(1.0, 8, ttft_ms=1900.0),), room=1, room_by_preemption=2),
                 memory, 1.0, config)  # fmt: skip
    assert (d.current, d.desired, d.needs_room) == (2, 5, 2)
    assert d.blocked is not None and "no room for 3 of 6" in d.blocked
    assert "blocked" in d.reason
    # The three start; nothing else fits. The core keeps asking for the same, never less.
    replicas = replicas + tuple(replica(f"s{i}", "starting", 1.0) for i in range(3))
    for t in range(2, 30):
        d = plan_one(service(replicas, (sample(float(t), 8, ttft_ms=1900.0),), room=0),
                     memory, float(t), config)  # fmt: skip
        assert d.desired == 5 and d.remove == ()
        assert d.blocked is not None


def test_max_is_respected_and_reported() -> None:
    d = plan_one(service(ready(2), (sample(1.0, 50, ttft_ms=500.0),), max_replicas=6),
                 AutoscaleMemory(), 1.0)  # fmt: skip
    assert d.desired == 6
    assert d.blocked is not None and d.blocked.startswith("at max 6 replicas")


def test_scale_from_zero_on_held_requests() -> None:
    memory = AutoscaleMemory()
    d = plan_one(service((), (sample(1.0, 0, queued=3),)), memory, 1.0)
    assert (d.current, d.desired) == (0, 1)
    assert "scale from zero" in d.reason
    # A bigger queue panics straight to what it needs (3 in flight per replica at the prior 4).
    d = plan_one(service((), (sample(1.0, 0, queued=40),)), AutoscaleMemory(), 1.0)
    assert d.desired >= 10


def test_scale_to_zero_after_a_quiet_stabilization_window() -> None:
    memory = AutoscaleMemory()
    t = 0.0
    for _ in range(100):
        t += 1.0
        d = plan_one(service(ready(1), (sample(t, 1, ttft_ms=300.0),)), memory, t)
    assert d.desired == 1
    quiet = t
    while d.desired != 0 and t < quiet + 1000:
        t += 1.0
        d = plan_one(service(ready(1), (sample(t, 0),)), memory, t)
    assert d.desired == 0 and d.remove == ("r0",)
    assert t - quiet >= AutoscaleConfig().scale_down_stabilization_s
    # With min 1 it stays.
    d = plan_one(service(ready(1), (sample(t + 1, 0),), min_replicas=1), memory, t + 1)
    assert d.desired == 1


def test_without_slo_targets_uses_target_concurrency() -> None:
    d = plan_one(service(ready(2), (sample(1.0, 5, in_flight=40),), ttft_ms=None),
                 AutoscaleMemory(), 1.0)  # fmt: skip
    assert d.desired == 10  # 40 in flight / 4 per replica
    assert "no SLO targets" in d.reason


def test_a_new_leader_does_not_scale_in_before_a_stabilization_window() -> None:
    memory = AutoscaleMemory()
    decisions: list[ScaleDecision] = []
    window_s = int(AutoscaleConfig().scale_down_stabilization_s)
    for t in range(1000, 1000 + window_s - 10):
        decisions.append(plan_one(service(ready(8), (sample(float(t), 0),)), memory, float(t)))
    assert all(d.desired == 8 for d in decisions)


def test_starting_replicas_count_toward_current_not_capacity() -> None:
    replicas = (*ready(1), replica("s0", "starting", 0.0), replica("s1", "starting", 0.0))
    d = plan_one(service(replicas, (sample(1.0, 2, ttft_ms=300.0),)), AutoscaleMemory(), 1.0)
    assert d.current == 3
    assert d.fields["ready"] == "1" and d.fields["starting"] == "2"
    assert d.desired >= 3 and d.remove == ()


def test_every_decision_carries_its_numbers() -> None:
    d = plan_one(service(ready(3), (sample(1.0, 20, ttft_ms=1600.0),)), AutoscaleMemory(), 1.0)
    assert d.reason.startswith("scale default/chat 3 -> ")
    assert "req/s predicted in 90 s" in d.reason
    assert "TTFT p99 1.6 s <= 2 s" in d.reason
    # The explanation alone, for the leader's event and ScaleRecord (which carry the counts
    # as fields): the reason is its opening and it, nothing said twice.
    assert d.reason == f"scale default/chat 3 -> {d.desired}: {d.why}"
    assert "default/chat" not in d.why and "req/s predicted in 90 s" in d.why
    for key in ("rate_rps", "forecast_rps", "per_replica_rps", "cold_start_s", "horizon_s"):
        assert d.fields[key]


@pytest.mark.parametrize(
    ("room", "by_preemption", "desired", "needs_room", "blocked"),
    [
        (10, 0, 8, 0, False),  # all on free capacity
        (0, 10, 8, 6, False),  # all by preempting batch work: reachable, not blocked
        (2, 1, 5, 1, True),  # 3 of 6 fit; the rest is blocked
        (0, 0, 2, 0, True),
    ],
)
def test_room_table(
    room: int, by_preemption: int, desired: int, needs_room: int, blocked: bool
) -> None:
    # 8 req/s at the prior 1 req/s per replica, TTFT at the edge (no learning): 8 wanted.
    view = service(ready(2), (sample(1.0, 8, ttft_ms=1900.0),), room=room,
                   room_by_preemption=by_preemption)  # fmt: skip
    d = plan_one(view, AutoscaleMemory(), 1.0)
    assert (d.desired, d.needs_room, d.blocked is not None) == (desired, needs_room, blocked)
    if needs_room:
        assert f"{needs_room} of" in d.reason and "preempted" in d.reason
