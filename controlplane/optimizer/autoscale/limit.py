"""What one replica sustains within its SLO, learned from what replicas actually did.

One estimator per measure of load: arrivals/s per ready replica, and requests in flight per
ready replica (a concurrency signal that sees long requests and backlogs that a rate misses).
Each interval with a latency measurement is a lesson, judged by its SLO ratio y (the worst
p99 / target over the service's targets):

- y > 1 at a load at or below the estimate (and not idle): the estimate was too high. Cut it
  by `learn_cut`, at most once per `learn_cut_cooldown_s`, and remember the load as a ceiling.
  A breach at a load well above the estimate is explained by overload: no cut.
- y <= slack_ratio at a load above the estimate: the replicas proved they carry it; close
  `learn_raise` of the gap.
- y <= slack_ratio near the estimate: creep up by `learn_creep_per_s`, scaled by how much slack
  there was and how near the load was. This finds capacity the service has not yet been pushed
  to, which is how a conservative prior becomes the real figure.
- slack_ratio < y <= 1: at the edge; hold.

Growth never passes 95 % of the ceiling, and the ceiling rises `ceiling_relax_per_h` an hour,
so a breach is retested rarely, not every few seconds. There is no fixed utilization target:
the operating point is wherever the SLO held.
"""

from __future__ import annotations

import math

from controlplane.optimizer.autoscale.config import AutoscaleConfig

_FLOOR = 1e-3  # the estimate never falls below this (per replica): avoids a division by zero
_CEILING_SHARE = 0.95  # growth stops at this share of the load that last broke the SLO
_OVERLOAD = 1.1  # a breach above this x the estimate is explained by overload


class LearnedLimit:
    __slots__ = ("breaches", "ceiling", "ceiling_unix", "last_cut_unix", "lessons", "value")

    def __init__(self, prior: float) -> None:
        self.value = prior
        self.ceiling = math.inf
        self.ceiling_unix = 0.0
        self.last_cut_unix = -math.inf
        self.lessons = 0  # intervals that moved or confirmed the estimate
        self.breaches = 0  # intervals whose SLO broke at a load the estimate allowed

    def _relaxed_ceiling(self, now: float, config: AutoscaleConfig) -> float:
        if self.ceiling == math.inf:
            return math.inf
        hours = max(0.0, now - self.ceiling_unix) / 3600.0
        return self.ceiling * (1.0 + config.ceiling_relax_per_h * hours)

    def bound(self, now: float, config: AutoscaleConfig) -> float:
        """The most the estimate may grow to now."""
        return self._relaxed_ceiling(now, config) * _CEILING_SHARE

    def observe(
        self, load: float, ratio: float, interval_s: float, now: float, config: AutoscaleConfig
    ) -> None:
        """One interval: `load` per ready replica, `ratio` the worst p99 / target in it."""
        value = self.value
        if load <= 0.0 or load < config.learn_min_load * value:
            return
        if ratio > 1.0:
            broke_at = max(load, value)
            if broke_at < self._relaxed_ceiling(now, config):
                self.ceiling = broke_at
                self.ceiling_unix = now
            if (
                load <= value * _OVERLOAD
                and now - self.last_cut_unix >= config.learn_cut_cooldown_s
            ):
                self.value = max(_FLOOR, value * (1.0 - config.learn_cut))
                self.last_cut_unix = now
                self.breaches += 1
            return
        slack = config.slack_ratio
        if ratio > slack:
            return
        if load > value:
            grown = value + config.learn_raise * (load - value)
        else:
            nearness = (load / value - config.learn_min_load) / (1.0 - config.learn_min_load)
            if config.learn_min_load >= 1.0:
                nearness = 1.0
            grown = value * (
                1.0 + config.learn_creep_per_s * interval_s * (1.0 - ratio / slack) * nearness
            )
        bound = self.bound(now, config)
        if grown > bound:
            grown = max(value, bound)
        self.value = grown
        self.lessons += 1
