"""Demand ahead: daily and weekly seasonality plus a short-term trend, from the service's own
history. Pure Python lists: one sample per call, and a fold once a minute or ten seconds.

- Seasonality: per-minute-of-day (1440 bins) and per-minute-of-week (10080 bins) profiles of
  the arrival rate, each bin an exponential average over the days (weeks) seen. A new day
  enters clipped to [1/season_clip, season_clip] x an established bin, so one odd day cannot
  move the profile much. The forecast uses the profile's shape, not its level: demand ahead
  = demand now x profile(ahead) / profile(now), and at least demand now + the profile's rise
  (the additive form carries a ramp out of a quiet night, where a ratio is 0 / 0).
- Trend: Holt's linear method on buckets of trend_bucket_s; only a rising trend adds (falling
  demand is left to the stabilization window, which is the safe side).

With no history both terms are neutral: the forecast is demand now.
"""

from __future__ import annotations

from array import array

from controlplane.optimizer.autoscale.config import AutoscaleConfig

DAY_MIN = 1440
WEEK_MIN = 10080
# A bin is read as the mean of its +-2 neighbours (5 minutes): per-minute counts are noisy.
_SMOOTH = 2
_ESTABLISHED = 3  # days after which a bin's updates are clipped
_MIN_COVER_S = 30.0  # a minute watched for less than this is not folded into the profile
_EPS_SHARE = 0.1  # the ratio's regulariser: 10 % of the mean profile rate


class _Profile:
    __slots__ = ("bins", "counts", "rates", "size", "total")

    def __init__(self, size: int) -> None:
        self.size = size
        # Typed arrays: 8 + 4 bytes a bin (a list of floats costs ~32), so a service's
        # 11,520 bins take ~140 KB; a fleet may hold thousands of services.
        self.rates = array("d", bytes(8 * size))
        self.counts = array("I", bytes(4 * size))
        self.total = 0.0  # sum of rates over the bins seen (for the mean)
        self.bins = 0  # bins seen at least once

    def fold(self, minute: int, rate: float, config: AutoscaleConfig) -> None:
        i = minute % self.size
        n = self.counts[i]
        old = self.rates[i]
        if n == 0:
            new = rate
            self.bins += 1
        else:
            if n >= _ESTABLISHED:
                clip = config.season_clip
                rate = min(max(rate, old / clip), old * clip)
            new = old + max(config.season_alpha, 1.0 / (n + 1)) * (rate - old)
        self.rates[i] = new
        self.counts[i] = n + 1 if n < 1_000_000 else n  # a count only needs to say "many"
        self.total += new - old

    def read(self, minute: int) -> tuple[float, int]:
        """(smoothed rate, least count among the bins read) at `minute`."""
        total = 0.0
        seen = 0
        least = 1 << 30
        size = self.size
        for j in range(minute - _SMOOTH, minute + _SMOOTH + 1):
            i = j % size
            n = self.counts[i]
            if n:
                total += self.rates[i]
                seen += 1
            if n < least:
                least = n
        return (total / seen if seen else 0.0), least

    def mean(self) -> float:
        return self.total / self.bins if self.bins else 0.0


class Forecaster:
    """Per service: the profiles, the current minute's and bucket's counts, Holt's state."""

    __slots__ = (
        "_bucket",
        "_bucket_arrivals",
        "_bucket_cover_s",
        "_cache",
        "_cache_key",
        "_holt_started",
        "_minute",
        "_minute_arrivals",
        "_minute_cover_s",
        "day",
        "level_rps",
        "trend_rps_per_s",
        "week",
    )

    def __init__(self) -> None:
        self.day = _Profile(DAY_MIN)
        self.week = _Profile(WEEK_MIN)
        self._minute: int | None = None
        self._minute_arrivals = 0
        self._minute_cover_s = 0.0
        self._bucket: int | None = None
        self._bucket_arrivals = 0
        self._bucket_cover_s = 0.0
        self.level_rps = 0.0
        self.trend_rps_per_s = 0.0
        self._holt_started = False
        self._cache_key: tuple[int, int] = (-1, -1)
        self._cache: tuple[tuple[float, float, float, float], ...] = ()

    def add(
        self, end_unix: float, interval_s: float, arrivals: int, config: AutoscaleConfig
    ) -> None:
        minute = int(end_unix // 60.0)
        if minute != self._minute:
            if self._minute is not None and self._minute_cover_s >= _MIN_COVER_S:
                rate = self._minute_arrivals / self._minute_cover_s
                self.day.fold(self._minute, rate, config)
                self.week.fold(self._minute, rate, config)
            self._minute = minute
            self._minute_arrivals = 0
            self._minute_cover_s = 0.0
        self._minute_arrivals += arrivals
        self._minute_cover_s += interval_s

        bucket_s = config.trend_bucket_s
        bucket = int(end_unix // bucket_s)
        if bucket != self._bucket:
            if self._bucket is not None and self._bucket_cover_s > 0.0:
                self._holt(self._bucket_arrivals / self._bucket_cover_s, bucket_s, config)
            self._bucket = bucket
            self._bucket_arrivals = 0
            self._bucket_cover_s = 0.0
        self._bucket_arrivals += arrivals
        self._bucket_cover_s += interval_s

    def _holt(self, rate: float, step_s: float, config: AutoscaleConfig) -> None:
        if not self._holt_started:
            self.level_rps = rate
            self._holt_started = True
            return
        previous = self.level_rps
        predicted = previous + self.trend_rps_per_s * step_s
        self.level_rps = predicted + config.trend_alpha * (rate - predicted)
        slope = (self.level_rps - previous) / step_s
        self.trend_rps_per_s += config.trend_beta * (slope - self.trend_rps_per_s)

    def _season(
        self, now: float, horizon_s: float, config: AutoscaleConfig
    ) -> tuple[tuple[float, float, float, float], ...]:
        """Per profile seen here: (ratio, rise_rps, profile rate now, eps) up to the horizon."""
        minute = int(now // 60.0)
        ahead = int((now + horizon_s) // 60.0) + 1  # the ramp may start within the next minute
        key = (minute, ahead)
        if key == self._cache_key:
            return self._cache
        parts = []
        for profile in (self.day, self.week):
            now_rate, least = profile.read(minute)
            if least == 0:  # this part of the day (week) has not been seen yet
                continue
            best = now_rate
            for m in range(minute + 1, ahead + 1):
                rate, n = profile.read(m)
                if n and rate > best:
                    best = rate
            if best <= now_rate:
                continue
            eps = _EPS_SHARE * profile.mean() + 1e-9
            ratio = min((best + eps) / (now_rate + eps), config.season_ratio_cap)
            parts.append((ratio, best - now_rate, now_rate, eps))
        self._cache_key = key
        self._cache = tuple(parts)
        return self._cache

    def forecast(
        self, rate_rps: float, now: float, horizon_s: float, config: AutoscaleConfig
    ) -> float:
        """Demand (requests/s) to plan for: the most expected between now and the horizon.

        `rate_rps` is the stable window's mean, which trails a ramp by half the window. The
        profile's rise is scaled down on a day quieter than the profile (never up: the ratio
        covers a busier one).
        """
        if not config.prediction:
            return rate_rps
        best = rate_rps
        trend = self.trend_rps_per_s
        cap = config.season_ratio_cap
        if trend > 0.0:
            ahead = rate_rps + trend * (horizon_s + config.stable_window_s / 2.0)
            best = min(ahead, rate_rps * cap + trend * horizon_s)
        for ratio, rise, now_rate, eps in self._season(now, horizon_s, config):
            quieter = min(1.0, (rate_rps + eps) / (now_rate + eps))
            best = max(best, rate_rps * ratio, rate_rps + rise * quieter)
        return best
