"""What the autoscaler core remembers between calls, per service.

Unlike the runtime core's `RuntimeMemory` (immutable in, immutable out), this memory is
mutable and owned by the caller: the core learns from every one-second sample, and copying
profiles of 11,520 minute bins per call would cost more than the whole decision (the bench
calls `plan_scale` 1.2 M times per run). The caller keeps one `AutoscaleMemory` for as long as
it runs; a new leader starts from `AutoscaleMemory()`, relearns capacity and load times within
minutes and seasonality within a day, and does not scale in during its first stabilization
window (docs/autoscaling.md, "Leader change").
"""

from __future__ import annotations

import math

from controlplane.optimizer.autoscale.burst import BurstHeadroom
from controlplane.optimizer.autoscale.coldstart import ColdStartLearner
from controlplane.optimizer.autoscale.config import AutoscaleConfig
from controlplane.optimizer.autoscale.forecast import Forecaster
from controlplane.optimizer.autoscale.gap import GapFloor
from controlplane.optimizer.autoscale.limit import LearnedLimit
from controlplane.optimizer.autoscale.windows import DemandWindow, SlidingMax


class ServiceMemory:
    """One service's learned state.

    stable, panic: demand windows. rate_limit, concurrency_limit: what a replica sustains at
    the SLO. cold_start: load time. forecaster: profiles and trend. recommendations: the
    scale-in recommendations of the stabilization window, recent_recommendations those of the
    shorter panic_release_s window. panic_floor: the replicas before a panic grew them (-1 when
    no panic-grown replicas are held). panic_until_unix: no scale-in before
    this. last_ready: ready replicas at the previous call (a sample's interval ended between
    the two calls). last_direction, last_change_unix: +1 up or -1 down, and when. flap_level,
    flap_unix: how many times (capped) a scale-in was followed by a scale-up within the window,
    and when last: the window is 2 ** flap_level x the configured one.
    last_ratio / last_measure / last_p99_ms: the latest SLO reading, for the reason line.
    zero_ready_unix: the last call that saw (or followed) no ready replica: the gateway's TTFT
    then includes time held, so the next seconds teach nothing about capacity.
    burst_unix: the last sample whose panic window held more than the ready replicas carry at
    the estimates: an SLO breach then (and while its queue drains) is no news about capacity.
    """

    __slots__ = (
        "burst",
        "burst_unix",
        "cold_start",
        "concurrency_limit",
        "first_seen_unix",
        "flap_level",
        "flap_unix",
        "forecaster",
        "gap",
        "horizon_s",
        "last_change_unix",
        "last_direction",
        "last_measure",
        "last_p99_ms",
        "last_ratio",
        "last_ready",
        "last_target_ms",
        "panic",
        "panic_floor",
        "panic_until_unix",
        "rate_limit",
        "recent_recommendations",
        "recommendations",
        "stable",
        "zero_ready_unix",
    )

    def __init__(self, now: float, config: AutoscaleConfig) -> None:
        self.first_seen_unix = now
        self.stable = DemandWindow(config.stable_window_s)
        self.panic = DemandWindow(config.panic_window_s)
        self.rate_limit = LearnedLimit(config.prior_rate_per_replica_rps)
        self.concurrency_limit = LearnedLimit(config.target_concurrency)
        self.cold_start = ColdStartLearner(config.prior_cold_start_s)
        self.forecaster = Forecaster()
        self.recommendations = SlidingMax(config.scale_down_stabilization_s)
        self.panic_until_unix = -math.inf
        self.panic_floor = -1  # replicas before the running panic grew them (-1: none)
        self.recent_recommendations = SlidingMax(config.panic_release_s)
        self.last_ready = 0
        self.last_direction = 0
        self.last_change_unix = -math.inf
        self.flap_level = 0
        self.flap_unix = -math.inf
        self.last_ratio: float | None = None
        self.last_measure = ""
        self.last_p99_ms = 0.0
        self.last_target_ms = 0.0
        self.zero_ready_unix = -math.inf
        self.burst_unix = -math.inf
        self.burst = BurstHeadroom()
        self.gap = GapFloor()
        self.horizon_s = config.prior_cold_start_s + config.cold_start_margin_s


class AutoscaleMemory:
    """Per-service state, keyed by "namespace/name". Services that leave the snapshot are
    forgotten (a service deleted and created again starts afresh)."""

    __slots__ = ("services",)

    def __init__(self) -> None:
        self.services: dict[str, ServiceMemory] = {}

    def service(self, key: str, now: float, config: AutoscaleConfig) -> ServiceMemory:
        memory = self.services.get(key)
        if memory is None:
            memory = self.services[key] = ServiceMemory(now, config)
        return memory

    def forget_except(self, keys: set[str]) -> None:
        for key in [k for k in self.services if k not in keys]:
            del self.services[key]
