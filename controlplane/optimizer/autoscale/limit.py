"""What one replica sustains within its SLO, learned from what replicas actually did.

One estimator per measure of load: arrivals/s per ready replica, and requests in flight per
ready replica (a concurrency signal that sees long requests and backlogs that a rate misses).
Each interval with a latency measurement is a lesson, judged by its SLO ratio y (the worst
p99 / target over the service's targets):

- y > 1 while the service was not knowingly overloaded (its stable demand within what its
  ready replicas carry at the estimate) and not idle: the estimate was too high. Cut it by
  `learn_cut`, at most once per `learn_cut_cooldown_s`, and remember the estimate as a ceiling.
  A breach while the core already knew it was short (replicas still starting, max or room
  reached) is explained by overload: no cut. One-second peaks above the estimate are not
  overload: the replicas are sized for the stable window, so its noise is the estimate's job.
- y <= slack_ratio at a load above the estimate: the replicas proved they carry it; close
  `learn_raise` of the gap.
- y <= slack_ratio near the estimate: creep up by `learn_creep_per_s`, scaled by how much slack
  there was and how near the load was. This finds capacity the service has not yet been pushed
  to, which is how a conservative prior becomes the real figure. Past what the last cut left,
  nearness is judged on the sustained load (the stable window's, per replica), not the
  interval's: creep there retests a known breach, and one second's Poisson peak at 70 % of
  the estimate, on replicas that average 35 %, shows nothing about it. Creeping on such peaks
  for hours took the estimate 25 % past where the SLO had broken (7 req/s on 2 replicas of
  10); the scale-in that relied on it broke at once and was undone 97 s later, a flap under
  steady load (tests/optimizer/autoscale/test_flapping.py).
- slack_ratio < y <= 1: at the edge; hold.

After a cut, growth never passes what the cut left, and that bound rises `ceiling_relax_per_h`
an hour: a breach is retested about hourly, not every few seconds, so the share of intervals
that break stays near one an hour, whatever the noise of the service's load. There is no
fixed utilization target: the operating point is wherever the SLO held.
"""

from __future__ import annotations

import math

from controlplane.optimizer.autoscale.config import AutoscaleConfig

_FLOOR = 1e-3  # the estimate never falls below this (per replica): avoids a division by zero


class LearnedLimit:
    __slots__ = (
        "breaches",
        "ceiling",
        "ceiling_unix",
        "last_cut_unix",
        "left_by_cut",
        "lessons",
        "value",
    )

    def __init__(self, prior: float) -> None:
        self.value = prior
        self.ceiling = math.inf
        self.ceiling_unix = 0.0
        self.last_cut_unix = -math.inf
        self.lessons = 0  # intervals that moved or confirmed the estimate
        self.breaches = 0  # intervals whose SLO broke at a load the estimate allowed
        self.left_by_cut = math.inf  # the estimate right after the last cut (inf: no cut yet)

    def _relaxed_ceiling(self, now: float, config: AutoscaleConfig) -> float:
        if self.ceiling == math.inf:
            return math.inf
        hours = max(0.0, now - self.ceiling_unix) / 3600.0
        return self.ceiling * (1.0 + config.ceiling_relax_per_h * hours)

    def bound(self, now: float, config: AutoscaleConfig) -> float:
        """The most the estimate may grow to now: what a cut left, rising slowly."""
        return self._relaxed_ceiling(now, config) * (1.0 - config.learn_cut)

    def observe(
        self,
        load: float,
        ratio: float,
        interval_s: float,
        now: float,
        config: AutoscaleConfig,
        overloaded: bool = False,
        sustained: float | None = None,
    ) -> None:
        """One interval: `load` per ready replica, `ratio` the worst p99 / target in it.

        overloaded: the service's sustained demand (its stable window) was above what its
        ready replicas carry at this estimate: a breach then is no news about the estimate.
        sustained: the stable window's load per ready replica (None: `load`); past what the
        last cut left, creep counts how near it is to the estimate.
        """
        value = self.value
        if load <= 0.0 or load < config.learn_min_load * value:
            return
        if ratio > 1.0:
            if now - self.last_cut_unix < config.learn_cut_cooldown_s:
                return  # the same burst: one lesson
            # The estimate that let it break bounds growth until the bound relaxes. A breach
            # under known overload is no news: it neither cuts nor bounds.
            if not overloaded and value < self._relaxed_ceiling(now, config):
                self.ceiling = value
                self.ceiling_unix = now
            if not overloaded:
                self.value = max(_FLOOR, value * (1.0 - config.learn_cut))
                self.last_cut_unix = now
                self.left_by_cut = self.value
                self.breaches += 1
            return
        slack = config.slack_ratio
        if ratio > slack:
            return
        if load > value:
            grown = value + config.learn_raise * (load - value)
        else:
            # Past what the last cut left, creep is a retest of a known breach: it needs the
            # sustained load near the estimate, not one interval's peak.
            held = load
            if sustained is not None and value >= self.left_by_cut and sustained < load:
                held = sustained
            nearness = (held / value - config.learn_min_load) / (1.0 - config.learn_min_load)
            if config.learn_min_load >= 1.0:
                nearness = 1.0
            if nearness <= 0.0:
                self.lessons += 1  # held with slack, far below the estimate: it stands
                return
            grown = value * (
                1.0 + config.learn_creep_per_s * interval_s * (1.0 - ratio / slack) * nearness
            )
        bound = self.bound(now, config)
        if grown > bound:
            grown = max(value, bound)
        self.value = grown
        self.lessons += 1
