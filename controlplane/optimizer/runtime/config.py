"""The runtime core's configuration: one frozen object, every field checked when it is built.

Defaults and why (docs/runtime.md has the long form):
- breach_ratio 0.9 / relax_ratio 0.7: act when the p99 comes within 10 % of the target, give
  relief back only when it is under 70 % of it. Acting before the target is reached is
  Heracles' slack rule (Lo et al., ISCA'15: stop best-effort growth below 10 % latency slack);
  a rolling p99 over few requests trails the tail, and the SLO is counted per request. The
  20-point band is the hysteresis that keeps a service near its target from flapping.
- escalate_after_s 15: one rung of the ladder per 15 s while a breach lasts: long enough for an
  actuation (agent command ~1 s, an application's throttle handler a few s) to show in a rolling
  p99, short enough to reach migration within a minute.
- relax_after_s 60 and min_change_interval_s 60: slack must hold a minute before a rung is
  undone, and no GPU cap or workload throttle changes more than once a minute except to protect
  an SLO (the issue's no-flapping rule).
- relax_backoff_max 3, relax_backoff_window_s 600: relief that had to come back within ten
  minutes of being undone is undone twice as slowly next time, up to 8 x (8 min): bursty
  services keep their relief, quiet ones give it back in a minute (the back-off of Kubernetes'
  CrashLoopBackOff and TCP's retransmission timer, applied to relaxing).
- max_actions_per_minute 120: a bound on the whole plan's churn; SLO relief goes first.
- energy_batch_keep 0.85: caps GPUs whose work has no SLO where the fitted Zeus curve keeps
  85 % of throughput: about 76 % of the max limit for training on every non-V100 model
  (docs/gpu-model.md §2), inside Zeus's flat region (70-80 %, gpu-models.md §2).
- energy_slo_headroom 0.5: a GPU serving an SLO is capped only as far as its predicted p99 stays
  under half the target, and only after its slack has held for relax_after_s. The SLO is counted
  per request: on the benchmark's trace an isolated service's p99.9 is ~1.4 x its p99, so half
  the target keeps the p99.9 (0.7 x) under the guard's 0.9 x with room for a minute's drift.
- energy_max_step_fraction 0.1: an energy cap comes down at most 10 % of the max limit per change
  (so at most that per minute): the p99 shows each step before the next. Lifting is at once.
- ladder: the issue's four rungs exist; the default leaves out "power_cap". A GPU has one power
  limit for all its work, and under time-slicing the protected service runs on the same clocks
  as its neighbour: the cap slows both (perf.throughput_factor applies to the GPU's mix), so it
  is no relief there. `aiwo-bench slo --ladder issue` measures it (docs/runtime.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from controlplane.optimizer.errors import ConfigError

LADDER_STEPS = ("throttle", "power_cap", "process_throttle", "migrate")
DEFAULT_LADDER = ("throttle", "process_throttle", "migrate")


@dataclass(frozen=True)
class RuntimeConfig:
    """
    breach_ratio: a fresh p99 above target x this is a breach (the guard escalates).
    relax_ratio: a fresh p99 below target x this is slack (relief may be undone).
    escalate_after_s: least time between two rungs for one neighbour during a breach.
    relax_after_s: slack must last this long, and the last change be this old, to undo a rung.
    relax_backoff_max: relief needed again within relax_backoff_window_s of being undone doubles
        that neighbour's relax wait, up to 2 ** this; a quiet 3 x window resets it.
    relax_backoff_window_s: see relax_backoff_max.
    min_change_interval_s: least time between two changes of one GPU cap or workload throttle,
        except changes that protect an SLO (escalation, lifting an energy cap).
    max_actions_per_minute: bound on actions over any 60 s; the most urgent go first.
    ladder: the rungs in order, a subset of LADDER_STEPS.
    throttle_factor: share of normal load a cooperatively throttled neighbour keeps.
    process_cpu_fraction: CPU (of one core) left to a process-throttled neighbour; 0 = freeze.
    guard_cap_fraction: the guard's cap on a shared GPU, as a fraction of its max limit.
    prefer_clock_lock: lock SM clocks (to guard_cap_fraction x max clock) instead of capping.
    migrate_min_interval_s: a workload is migrated at most once per this.
    energy: whether the energy pass caps GPUs at all.
    energy_batch_keep: throughput share an energy cap keeps for work without an SLO.
    energy_slo_headroom: an SLO GPU is capped only while predicted p99 <= target x this.
    energy_min_step_fraction: cap changes smaller than this x max limit are not made.
    energy_max_step_fraction: an energy cap comes down at most this x max limit per change.
    energy_backoff_s: after an SLO forced a cap up, the energy pass leaves the GPU alone this long.
    idle_to_min: idle GPUs go to their minimum power limit.
    reissue_after_s: a cap the GPU does not report after this long is sent again.
    variants: whether the variant pass runs.
    variant_pressure_s: pending work must wait this long before a variant is switched for it.
    variant_restore_s: no pressure for this long before a variant is switched back.
    variant_min_dwell_s: least time between two switches of one workload.
    """

    breach_ratio: float = 0.9
    relax_ratio: float = 0.7
    escalate_after_s: float = 15.0
    relax_after_s: float = 60.0
    relax_backoff_max: int = 3
    relax_backoff_window_s: float = 600.0
    min_change_interval_s: float = 60.0
    max_actions_per_minute: int = 120
    ladder: tuple[str, ...] = DEFAULT_LADDER
    throttle_factor: float = 0.5
    process_cpu_fraction: float = 0.25
    guard_cap_fraction: float = 0.55
    prefer_clock_lock: bool = False
    migrate_min_interval_s: float = 600.0
    energy: bool = True
    energy_batch_keep: float = 0.85
    energy_slo_headroom: float = 0.5
    energy_max_step_fraction: float = 0.1
    energy_min_step_fraction: float = 0.03
    energy_backoff_s: float = 600.0
    idle_to_min: bool = True
    reissue_after_s: float = 30.0
    variants: bool = True
    variant_pressure_s: float = 30.0
    variant_restore_s: float = 300.0
    variant_min_dwell_s: float = 600.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "bool" and not isinstance(value, bool):
                raise ConfigError(f.name, f"expected true or false, got {value!r}")
            if f.type == "float":
                _finite(f.name, value)
        _range("breach_ratio", self.breach_ratio, 0.1, 10.0)
        _range("relax_ratio", self.relax_ratio, 0.0, self.breach_ratio, open_hi=True)
        for name in (
            "escalate_after_s",
            "relax_after_s",
            "relax_backoff_window_s",
            "min_change_interval_s",
            "migrate_min_interval_s",
            "energy_backoff_s",
            "reissue_after_s",
            "variant_pressure_s",
            "variant_restore_s",
            "variant_min_dwell_s",
        ):
            _range(name, getattr(self, name), 0.0, math.inf)
        if (
            isinstance(self.relax_backoff_max, bool)
            or not isinstance(self.relax_backoff_max, int)
            or not 0 <= self.relax_backoff_max <= 10
        ):
            raise ConfigError(
                "relax_backoff_max", f"expected an integer 0..10, got {self.relax_backoff_max!r}"
            )
        if (
            isinstance(self.max_actions_per_minute, bool)
            or not isinstance(self.max_actions_per_minute, int)
            or self.max_actions_per_minute < 1
        ):
            raise ConfigError(
                "max_actions_per_minute",
                f"expected an integer >= 1, got {self.max_actions_per_minute!r}",
            )
        if not isinstance(self.ladder, tuple) or any(s not in LADDER_STEPS for s in self.ladder):
            raise ConfigError(
                "ladder", f"expected a tuple of {', '.join(LADDER_STEPS)}, got {self.ladder!r}"
            )
        if len(set(self.ladder)) != len(self.ladder):
            raise ConfigError("ladder", f"a step appears twice in {self.ladder!r}")
        _range("throttle_factor", self.throttle_factor, 0.0, 1.0, open_hi=True)
        _range("process_cpu_fraction", self.process_cpu_fraction, 0.0, 1.0, open_hi=True)
        _range("guard_cap_fraction", self.guard_cap_fraction, 0.05, 1.0)
        _range("energy_batch_keep", self.energy_batch_keep, 0.05, 1.0)
        _range("energy_slo_headroom", self.energy_slo_headroom, 0.05, self.relax_ratio)
        _range("energy_min_step_fraction", self.energy_min_step_fraction, 0.0, 0.5)
        _range("energy_max_step_fraction", self.energy_max_step_fraction, 0.01, 1.0)


def _finite(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(name, f"expected a finite number, got {value!r}")


def _range(name: str, value: float, lo: float, hi: float, open_hi: bool = False) -> None:
    above = value >= hi if open_hi else value > hi
    if value < lo or above:
        bracket = ")" if open_hi else "]"
        raise ConfigError(name, f"expected a value in [{lo:g}, {hi:g}{bracket}, got {value!r}")
