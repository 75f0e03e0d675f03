"""No flapping: under steady but noisy load, at most one change of direction per
stabilization window."""

from __future__ import annotations

import itertools
import math

import pytest

from controlplane.optimizer.autoscale import AutoscaleConfig, AutoscaleMemory

from .builders import KEY, World, direction_changes, plan_one, ready, sample, service


@pytest.mark.parametrize(
    ("rate_rps", "wobble", "seed"),
    [
        (50.0, 0.0, 1),
        (100.0, 0.05, 2),
        (7.0, 0.0, 4),
        (300.0, 0.05, 5),
        (100.0, 0.0, 6),
        # Each flapped (a scale-in undone within seconds by the cut its first breach made,
        # or by capacity crept past a known breach) before the scale-in left room for a cut.
        (7.0, 0.0, 0),
        (15.0, 0.0, 2),
        (50.0, 0.0, 5),
        (100.0, 0.05, 4),
    ],
)
def test_noisy_steady_load_changes_direction_at_most_once_per_window(
    rate_rps: float, wobble: float, seed: int
) -> None:
    config = AutoscaleConfig()
    window_s = config.scale_down_stabilization_s

    def rate(t: float) -> float:
        # Poisson noise (the world's) plus a slow wobble of +-wobble around the mean.
        return rate_rps * (1.0 + wobble * math.sin(2 * math.pi * t / 900.0))

    world = World(rate=rate, capacity_rps=10.0, seed=seed, config=config).start_with(2)
    world.run(3600)  # learn first
    decisions = world.run(4 * 3600)
    changes = direction_changes(decisions)
    for i, at in enumerate(changes[1:], start=1):
        assert at - changes[i - 1] >= window_s, f"two reversals within {window_s} s: {changes}"


def test_load_swinging_wider_than_the_dead_band_flaps_once_then_waits_longer() -> None:
    # +-8 % over three stabilization windows on top of Poisson noise: wider than the 10 %
    # dead band. One quick down-then-up may happen; after it the service's scale-in window
    # doubles.
    config = AutoscaleConfig()
    period_s = 3.0 * config.scale_down_stabilization_s

    def rate(t: float) -> float:
        return 100.0 * (1.0 + 0.08 * math.sin(2 * math.pi * t / period_s))

    world = World(rate=rate, capacity_rps=10.0, seed=3, config=config).start_with(2)
    world.run(3600)
    decisions = world.run(4 * 3600)
    changes = direction_changes(decisions)
    window_s = config.scale_down_stabilization_s
    quick = [b - a for a, b in itertools.pairwise(changes) if b - a < window_s]
    assert len(quick) <= 1, changes
    stretched = [d for d in decisions if float(d.fields["stabilization_s"]) == 2 * window_s]
    assert stretched, "the window never stretched"


@pytest.mark.parametrize(("last_direction", "desired"), [(1, 9), (-1, 8), (0, 8)])
def test_a_scale_in_that_turns_back_a_scale_up_outlasts_one_capacity_cut(
    last_direction: int, desired: int
) -> None:
    # 70 req/s on 12 replicas of 10 req/s (no latency measured, so nothing is learned): 7
    # replicas needed. A scale-in continuing a scale-in leaves the 10 % dead band (8); one
    # that turns back a scale-up leaves room for one 10 % cut of the estimate too (9), so the
    # first breach at the new count does not scale up again within the window.
    config = AutoscaleConfig(prior_rate_per_replica_rps=10.0)
    memory = AutoscaleMemory()
    d = None
    for t in range(1, 400):
        view = service(ready(12), (sample(float(t), 70),))
        if t == 1:
            plan_one(view, memory, 0.0, config)  # first seen at 0: settled after 180 s
            memory.services[KEY].last_direction = last_direction
        d = plan_one(view, memory, float(t), config)
        if d.desired != d.current:
            break
    assert d is not None
    assert d.current == 12 and d.desired == desired, d.reason
