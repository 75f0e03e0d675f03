"""The two opt-in burst knobs: panic_release_s (release panic-grown replicas once the burst has
passed) and learn_skip_bursts (a breach in a burst is no lesson about capacity).

The learned burst headroom is off here (burst_quantile=0): one 6x burst would otherwise be
learned as this service's standing headroom, and these tests are about the knobs alone
(test_burst_gap.py has the headroom's)."""

from __future__ import annotations

from controlplane.optimizer.autoscale import AutoscaleConfig

from .builders import World


def _burst_then_calm(config: AutoscaleConfig) -> tuple[int, int, World]:
    """20 req/s, a 40 s burst of 120 req/s at t=600, then 20 req/s again: the replicas held
    at the burst's peak and 200 s after it ended (well inside the 300 s window)."""
    world = World(rate=lambda t: 120.0 if 600 < t <= 640 else 20.0, config=config).start_with(3)
    world.run(640)
    peak = world.decisions[-1].desired
    world.run(200)
    return peak, world.decisions[-1].desired, world


def test_panic_release_off_by_default_holds_panic_grown_replicas_through_the_window() -> None:
    config = AutoscaleConfig(
        prior_rate_per_replica_rps=10.0, burst_quantile=0.0, scale_down_stabilization_s=300.0
    )
    peak, after, _ = _burst_then_calm(config)
    assert peak >= 12
    assert after >= 12  # the 300 s stabilization window still holds them


def test_panic_release_gives_back_panic_grown_replicas_once_the_burst_passed() -> None:
    config = AutoscaleConfig(
        prior_rate_per_replica_rps=10.0,
        panic_release_s=60.0,
        burst_quantile=0.0,
        scale_down_stabilization_s=300.0,
    )
    peak, after, world = _burst_then_calm(config)
    assert peak >= 12
    assert after <= 4  # back to what 20 req/s needs, long before the 300 s window ends
    released = [d for d in world.decisions if "panic passed" in d.reason]
    assert released and released[0].desired < released[0].current


def test_panic_release_never_scales_in_while_the_panic_lasts() -> None:
    config = AutoscaleConfig(
        prior_rate_per_replica_rps=10.0,
        panic_release_s=60.0,
        burst_quantile=0.0,
        scale_down_stabilization_s=300.0,
    )
    world = World(rate=lambda t: 120.0 if t > 600 else 20.0, config=config).start_with(3)
    world.run(600)
    burst = world.run(300)  # the burst does not pass: nothing is released
    assert all(d.desired >= d.current for d in burst)


def _capacity_after_bursts(skip: bool) -> float:
    # A replica sustains 40 req/s; the estimate starts at 30. 5 s bursts of 10x every 10 min
    # break the SLO while panic-started replicas load; between them, 30 req/s holds it.
    config = AutoscaleConfig(prior_rate_per_replica_rps=30.0, learn_skip_bursts=skip)

    def rate(t: float) -> float:
        return 300.0 if t % 600 < 5 else 30.0

    world = World(rate=rate, capacity_rps=40.0, config=config).start_with(2)
    world.run(3 * 3600)
    return world.memory.services["default/chat"].rate_limit.value


def test_learn_skip_bursts_keeps_the_capacity_estimate_through_bursts() -> None:
    cut = _capacity_after_bursts(False)
    kept = _capacity_after_bursts(True)
    assert kept > cut
