"""The autoscaler core's configuration: one frozen object, every field checked when it is built.

Sources of the defaults (docs/autoscaling.md has the long form):
- stable_window_s 60, panic_window_s 6, panic_threshold 2.0: Knative's KPA defaults
  (stable-window 60 s, panic-window-percentage 10 %, panic-threshold-percentage 200 %).
- tolerance 0.1: Kubernetes HPA's default (--horizontal-pod-autoscaler-tolerance 0.1).
- scale_down_stabilization_s 180: shorter than HPA's 5 m
  (--horizontal-pod-autoscaler-downscale-stabilization) so that a service is back to its
  minimum within 5 minutes of quiet (issue 10's live goal: the 60 s stable window plus this);
  on ServeGen m-small it also holds panic-grown replicas for less (BENCHMARKS.md).
- max_scale_up_rate 1000, max_scale_down_rate 2: Knative's max-scale-up-rate and
  max-scale-down-rate.
- prior_cold_start_s 60: model load plus engine start of a 7-13 B model from local disk
  (vLLM, TGI: tens of seconds to two minutes); replaced by the first observed load time.
- The learning rates are ours: chosen so that a service reaches its capacity at the SLO within
  minutes of loaded operation and a breach costs a tenth of the estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from controlplane.optimizer.errors import ConfigError


@dataclass(frozen=True)
class AutoscaleConfig:
    """
    stable_window_s: demand is the mean over this window (s) outside panic.
    panic_window_s: the short window (s) that detects a burst.
    panic_threshold: panic when the panic window's demand needs this many times the ready
        replicas (2.0 = 200 %); while panicking (and a stable window after) no scale-in.
    scale_down_stabilization_s: scale-in goes to the highest recommendation of this window (s),
        and never within this long of the service first being seen (a new leader).
    panic_release_s: replicas a panic added above what the service had before it are released
        once the panic has passed, down to the highest recommendation of this (shorter) window
        (s), instead of waiting out the stabilization window (0, or >= that window: never
        early; off by default: on ServeGen m-small the released replicas were needed again by
        the next burst, costing cold starts).
    flap_backoff_max: a scale-up within the window after a scale-in doubles that service's
        stabilization window, up to 2 ** this; three calm windows reset it (0 = never).
    tolerance: scale-in only when demand is this fraction below what the fewer replicas can
        carry: a dead band against flapping (HPA's tolerance, applied on the way down).
    max_scale_up_rate: one call grows a service to at most this x its ready replicas.
    max_scale_down_rate: one call shrinks a service to no less than current / this.
    target_concurrency: requests in flight per replica; the fixed target for a service without
        SLO targets, and the prior its learned value starts from for one with targets.
    prior_rate_per_replica_rps: requests/s one replica is assumed to serve within its SLO until
        the service has shown more (conservative: the learned value rises fast under load).
    learn_raise: share of the gap closed when a replica held its SLO, with slack, at more load
        than the estimate (per interval).
    learn_creep_per_s: relative growth per second of the estimate while replicas run near it
        with slack (p99 <= slack_ratio x target): how capacity that was never tested is found.
    learn_cut: relative cut of the estimate when the SLO broke at or below it.
    learn_cut_cooldown_s: least time (s) between two cuts: one burst is one lesson (a burst of
        heavier requests at a steady rate lasts minutes; cutting every few seconds through it
        left the estimate far below what replicas carry once it has passed).
    learn_skip_bursts: an SLO breach while the panic window's demand is above what the ready
        replicas carry at the estimate (or within 15 s after) is no news about capacity: no cut.
        Off by default: it saves GPU-hours on bursty traces at some attainment (BENCHMARKS.md).
    learn_min_load: a sample teaches only when its load per replica is at least this x the
        estimate (an idle replica that misses says nothing about capacity).
    slack_ratio: a p99 at or below target x this is slack: the estimate may grow.
    ceiling_relax_per_h: the load at which the SLO last broke bounds the estimate; the bound
        rises by this fraction per hour, so capacity is retested, rarely.
    prior_cold_start_s: load time (s) assumed until one starting -> ready transition is seen.
    cold_start_margin_s: added to the learned load time: replicas are planned for demand at
        now + load time + this.
    cold_start_alpha: weight of the newest load time in the learned mean.
    prediction: whether seasonality, trend and the learned burst headroom raise the planned
        demand (off: reactive only).
    season_alpha: weight of the newest day (week) in the per-minute profiles.
    season_clip: once a minute bin has 3 days, a new day enters clipped to [1/x, x] times it:
        one odd day moves the profile by at most season_alpha x (season_clip - 1).
    season_ratio_cap: the seasonal forecast is at most this x the current demand.
    trend_bucket_s: the trend is fitted on buckets of this many seconds.
    trend_alpha, trend_beta: Holt's level and trend smoothing per bucket.
    burst_quantile: the standing burst headroom (burst.py) is this quantile of the learned
        growth of the panic window's demand over the stable demand one planning horizon
        earlier, per hour of day, weighted by requests (0 = no headroom).
    burst_from_stable: learn the headroom from the stable window's growth over the horizon
        instead of the panic window's (opt-in: the learned capacity per replica already
        covers the seconds-scale noise that the 6 s window adds to every ratio).
    burst_day_decay: each day boundary, the growth histograms' weights are multiplied by this
        (a burst pattern that stops fades within days).
    burst_headroom_max: the headroom never exceeds this factor.
    gap_hold_s: a zero-demand gap (no arrivals for a panic window) holds the replicas the
        demand before it needed, for as long as the longest gap this service has resumed
        from (learned), times 2, and at most this (s); 0 = never hold.
    gap_flow_share: a gap is also held while it is no longer than this share of the time
        demand flowed without a gap before it (0 = off): the first gap of a service with no
        gap history, after hours of demand, is more likely an interruption than an end.
    """

    stable_window_s: float = 60.0
    panic_window_s: float = 6.0
    panic_threshold: float = 2.0
    scale_down_stabilization_s: float = 180.0
    panic_release_s: float = 0.0
    flap_backoff_max: int = 2
    tolerance: float = 0.1
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    target_concurrency: float = 4.0
    prior_rate_per_replica_rps: float = 1.0
    learn_raise: float = 0.05
    learn_creep_per_s: float = 0.01
    learn_cut: float = 0.1
    learn_cut_cooldown_s: float = 120.0
    learn_skip_bursts: bool = False
    learn_min_load: float = 0.5
    slack_ratio: float = 0.8
    ceiling_relax_per_h: float = 0.1
    prior_cold_start_s: float = 60.0
    cold_start_margin_s: float = 30.0
    cold_start_alpha: float = 0.3
    prediction: bool = True
    season_alpha: float = 0.25
    season_clip: float = 3.0
    season_ratio_cap: float = 4.0
    trend_bucket_s: float = 10.0
    trend_alpha: float = 0.2
    trend_beta: float = 0.05
    burst_quantile: float = 0.99
    burst_from_stable: bool = False
    burst_day_decay: float = 0.7
    burst_headroom_max: float = 4.0
    gap_hold_s: float = 7200.0
    gap_flow_share: float = 0.25

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "bool":
                if not isinstance(value, bool):
                    raise ConfigError(f.name, f"expected true or false, got {value!r}")
            elif f.type == "int":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
                    raise ConfigError(f.name, f"expected an integer 0..6, got {value!r}")
            else:
                _finite(f.name, value)
        _range("stable_window_s", self.stable_window_s, 1.0, 3600.0)
        _range("panic_window_s", self.panic_window_s, 1.0, self.stable_window_s)
        _range("panic_threshold", self.panic_threshold, 1.0, 100.0)
        _range("scale_down_stabilization_s", self.scale_down_stabilization_s, 0.0, 86_400.0)
        _range("panic_release_s", self.panic_release_s, 0.0, 86_400.0)
        _range("tolerance", self.tolerance, 0.0, 1.0, open_hi=True)
        _range("max_scale_up_rate", self.max_scale_up_rate, 1.0, 1e6, open_lo=True)
        _range("max_scale_down_rate", self.max_scale_down_rate, 1.0, 1e6, open_lo=True)
        _range("target_concurrency", self.target_concurrency, 0.0, 1e6, open_lo=True)
        _range("prior_rate_per_replica_rps", self.prior_rate_per_replica_rps, 0.0, 1e6, True)
        _range("learn_raise", self.learn_raise, 0.0, 1.0)
        _range("learn_creep_per_s", self.learn_creep_per_s, 0.0, 1.0)
        _range("learn_cut", self.learn_cut, 0.0, 1.0, open_hi=True)
        _range("learn_cut_cooldown_s", self.learn_cut_cooldown_s, 0.0, 3600.0)
        _range("learn_min_load", self.learn_min_load, 0.0, 1.0)
        _range("slack_ratio", self.slack_ratio, 0.0, 1.0, open_lo=True)
        _range("ceiling_relax_per_h", self.ceiling_relax_per_h, 0.0, 10.0)
        _range("prior_cold_start_s", self.prior_cold_start_s, 0.0, 3600.0)
        _range("cold_start_margin_s", self.cold_start_margin_s, 0.0, 3600.0)
        _range("cold_start_alpha", self.cold_start_alpha, 0.0, 1.0, open_lo=True)
        _range("season_alpha", self.season_alpha, 0.0, 1.0, open_lo=True)
        _range("season_clip", self.season_clip, 1.0, 1e3, open_lo=True)
        _range("season_ratio_cap", self.season_ratio_cap, 1.0, 100.0)
        _range("trend_bucket_s", self.trend_bucket_s, 1.0, 600.0)
        _range("trend_alpha", self.trend_alpha, 0.0, 1.0, open_lo=True)
        _range("trend_beta", self.trend_beta, 0.0, 1.0)
        _range("burst_quantile", self.burst_quantile, 0.0, 1.0, open_hi=True)
        _range("burst_day_decay", self.burst_day_decay, 0.0, 1.0)
        _range("burst_headroom_max", self.burst_headroom_max, 1.0, 100.0)
        _range("gap_hold_s", self.gap_hold_s, 0.0, 86_400.0)
        _range("gap_flow_share", self.gap_flow_share, 0.0, 10.0)


def _finite(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(name, f"expected a finite number, got {value!r}")


def _range(
    name: str, value: float, lo: float, hi: float, open_lo: bool = False, open_hi: bool = False
) -> None:
    below = value <= lo if open_lo else value < lo
    above = value >= hi if open_hi else value > hi
    if below or above:
        left = "(" if open_lo else "["
        right = ")" if open_hi else "]"
        raise ConfigError(name, f"expected a value in {left}{lo:g}, {hi:g}{right}, got {value!r}")
