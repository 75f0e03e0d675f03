"""Standing burst headroom: how much demand grows within one cold start, learned per service.

A replica started now serves only after the learned load time, so the replicas there are now
must absorb whatever the demand does until then. Each sample teaches one growth ratio

    g = panic-window rate now / stable-window rate one planning horizon ago

(the horizon is the learned load time plus its margin), weighted by the sample's arrivals (the
SLO counts requests, and a burst carries many). The ratios go into log-spaced histograms: one
per hour of the day (bursts recur at certain hours) and one over all hours. The headroom is the
`burst_quantile` of the hour's histogram (of now and of now + horizon, the larger), or of the
global one while the hour has seen less than `_HOUR_MIN_S` of traffic. Every histogram decays
by `burst_day_decay` at each day boundary, so a burst pattern that stops is forgotten within
days. The planned demand is at least the stable rate x the headroom.

Pure Python, O(1) per sample: one log and two adds; the quantile is read once a minute.
"""

from __future__ import annotations

import math
from collections import deque

from controlplane.optimizer.autoscale.config import AutoscaleConfig

_STEP = 0.02  # log-width of a bucket: 2 % of the ratio
_BUCKETS = 128  # ratios up to e ** (128 x 0.02) = 12.9 x; larger ones land in the top bucket
_HOURS = 24
_HOUR_MIN_S = 1800.0  # an hour bin is used once it has seen this much traffic (seconds)
_MIN_RATE_RPS = 1e-6  # a stable rate below this (a gap) teaches nothing: the ratio is 0 / 0


class _Histogram:
    __slots__ = ("counts", "seen_s", "total")

    def __init__(self) -> None:
        self.counts = [0.0] * _BUCKETS
        self.total = 0.0
        self.seen_s = 0.0

    def decay(self, factor: float) -> None:
        counts = self.counts
        for i in range(_BUCKETS):
            counts[i] *= factor
        self.total *= factor
        self.seen_s *= factor

    def quantile(self, q: float) -> float:
        """The ratio below which a share q of the weight lies (a bucket's upper edge); 1.0
        when nothing was seen."""
        if self.total <= 0.0:
            return 1.0
        tail = (1.0 - q) * self.total
        acc = 0.0
        counts = self.counts
        for i in range(_BUCKETS - 1, 0, -1):
            acc += counts[i]
            if acc > tail:
                return math.exp((i + 1) * _STEP)
        return 1.0


class BurstHeadroom:
    """Per service: the past stable rates (for the ratio's denominator) and the histograms."""

    __slots__ = ("_cache", "_cache_key", "_day", "_past", "_past_rate", "all", "hours")

    def __init__(self) -> None:
        self.hours = [_Histogram() for _ in range(_HOURS)]
        self.all = _Histogram()
        self._past: deque[tuple[float, float]] = deque()  # (end_unix, stable_rps), oldest first
        self._past_rate = -1.0  # the stable rate one horizon ago (-1: not that old yet)
        self._day = -1
        self._cache_key = (-1, -1)
        self._cache = 1.0

    def add(
        self,
        end_unix: float,
        interval_s: float,
        arrivals: int,
        stable_rps: float,
        panic_rps: float,
        horizon_s: float,
        config: AutoscaleConfig,
    ) -> None:
        past = self._past
        past.append((end_unix, stable_rps))
        horizon = end_unix - horizon_s
        while past and past[0][0] <= horizon:
            self._past_rate = past.popleft()[1]
        day = int(end_unix // 86_400.0)
        if day != self._day:
            if self._day >= 0:
                factor = config.burst_day_decay
                for hist in self.hours:
                    hist.decay(factor)
                self.all.decay(factor)
            self._day = day
        base = self._past_rate
        if base < _MIN_RATE_RPS:
            return
        ratio = panic_rps / base
        i = int(math.log(ratio) / _STEP) if ratio > 1.0 else 0
        if i >= _BUCKETS:
            i = _BUCKETS - 1
        weight = float(arrivals)
        hist = self.hours[int(end_unix // 3600.0) % _HOURS]
        hist.counts[i] += weight
        hist.total += weight
        hist.seen_s += interval_s
        top = self.all
        top.counts[i] += weight
        top.total += weight
        top.seen_s += interval_s

    def headroom(self, now: float, horizon_s: float, config: AutoscaleConfig) -> float:
        """The factor on the stable rate to plan with now (>= 1)."""
        q = config.burst_quantile
        if q <= 0.0 or not config.prediction:  # reactive only: no learned headroom either
            return 1.0
        key = (int(now // 60.0), int((now + horizon_s) // 3600.0))
        if key == self._cache_key:
            return self._cache
        best = 1.0
        fallback = False
        for hour in {int(now // 3600.0) % _HOURS, key[1] % _HOURS}:
            hist = self.hours[hour]
            if hist.seen_s < _HOUR_MIN_S:
                fallback = True
                continue
            best = max(best, hist.quantile(q))
        if fallback:
            best = max(best, self.all.quantile(q))
        best = min(best, config.burst_headroom_max)
        self._cache_key = key
        self._cache = best
        return best
