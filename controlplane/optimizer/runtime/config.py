"""The runtime core's configuration: one frozen object, every field checked when it is built.

Defaults and why (docs/runtime.md has the long form):
- breach_ratio 0.9 / relax_ratio 0.7: act when the p99 comes within 10 % of the target, give
  relief back only when it is under 70 % of it. Acting before the target is reached is
  Heracles' slack rule (Lo et al., ISCA'15: stop best-effort growth below 10 % latency slack);
  a rolling p99 over few requests trails the tail, and the SLO is counted per request. The
  20-point band is the hysteresis that keeps a service near its target from flapping.
- escalate_after_s 10: one rung of the ladder per 10 s while a breach lasts (two control
  periods). The rolling p99 (30 s) cannot show a rung's effect sooner than a rung every 15 s
  would, and half of the neighbours ignore the cooperative first rung: on the benchmark's
  trace a miss comes in the first seconds of a burst, so reaching the process throttle 5 s
  earlier served more requests in time and cost less batch work (docs/runtime.md).
- relax_after_s 60 and min_change_interval_s 60: slack must hold a minute before a rung is
  undone, and no GPU cap or workload throttle changes more than once a minute except to protect
  an SLO (the issue's no-flapping rule).
- relax_backoff_max 2, relax_backoff_window_s 600: relief that had to come back within ten
  minutes of being undone is undone twice as slowly next time, up to 4 x (4 min): bursty
  services keep their relief, quiet ones give it back in a minute (the back-off of Kubernetes'
  CrashLoopBackOff and TCP's retransmission timer, applied to relaxing). 8 x held relief
  through the quiet minutes of a busy period and cost batch work without serving more
  requests in time.
- max_actions_per_minute 120, max_actions_per_gpu_minute 0.1: a bound on the whole plan's
  churn (SLO relief goes first) that grows with the fleet past 1,200 GPUs. A fixed 120 took
  67 minutes to put the idle GPUs of 1,000 8-GPU nodes to their minimum limit and 11 hours at
  10,000 nodes, and every pass meanwhile proposed again what the bound had deferred (a runtime
  pass cost 65 us per node-second so, 20 us once settled: bench/scale/ingest.py). 0.1 per GPU
  settles any fleet within about 10 minutes of a leader starting; one GPU still changes at most
  once per min_change_interval_s.
- energy_batch_floor 0.82, energy_batch_keep 0.8: the SLO guard and the energy pass spend the
  same thing, batch throughput (budget.py). The guard comes first; energy caps keep the
  cluster's batch throughput at or above 82 % counting the guard's relief in force (the
  issue's goal is 80 %; 2 points for what the estimate misses: restarts after a migration,
  relief that comes and goes between passes). Every GPU with batch work gets the same keep,
  never below 80 % on the fitted Zeus curve (a cap at about 69 % of the max limit for training
  on every non-V100 model, docs/gpu-model.md §2: the upper edge of the 50-70 % where Zeus
  measures the least energy per unit of work, gpu-models.md §2).
- energy_slo_headroom 0: no energy cap slows a GPU that serves an SLO. A GPU has one limit for
  all its work, and a latency service's tail comes from bursts that a rolling p99 taken in a
  quiet minute does not foresee: with caps allowed down to a predicted p99 of 0.5 or 0.4 x the
  target, the benchmark's tight scenario served fewer requests in time (99.886 and 99.892
  against 99.902 %) for 1-2 points of energy (BENCHMARKS.md). A value > 0 turns the rule on:
  the predicted p99 under the new cap must stay under target x headroom.
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
    max_actions_per_gpu_minute: the bound grows to this many per GPU in the snapshot, where
        that is more.
    ladder: the rungs in order, a subset of LADDER_STEPS.
    throttle_factor: share of normal load a cooperatively throttled neighbour keeps.
    process_cpu_fraction: CPU (of one core) left to a process-throttled neighbour; 0 = freeze.
    guard_cap_fraction: the guard's cap on a shared GPU, as a fraction of its max limit.
    prefer_clock_lock: lock SM clocks (to guard_cap_fraction x max clock) instead of capping.
    migrate_min_interval_s: a workload is migrated at most once per this.
    energy: whether the energy pass caps GPUs at all.
    energy_batch_keep: throughput share an energy cap keeps for work without an SLO, at least.
    energy_batch_floor: energy caps keep the cluster's batch throughput at or above this share,
        counting the SLO guard's relief in force (budget.py); the guard is never held back.
    energy_slo_headroom: an SLO GPU is capped only while predicted p99 <= target x this.
    energy_min_step_fraction: cap changes smaller than this x max limit are not made.
    energy_max_step_fraction: an energy cap comes down at most this x max limit per change.
    energy_backoff_s: after an SLO forced a cap up, the energy pass leaves the GPU alone this long.
    idle_to_min: idle GPUs go to their minimum power limit.
    energy_decode_max_slowdown: on a GPU that only serves decode (every workload has an SLO,
        all with slack), the energy pass locks the SM clock at the lowest-energy clock whose
        decode step is at most this much slower (docs/gpu-model.md §5: decode is memory-bound,
        so power falls with the clock and speed barely does); 1.0 = no decode clock lock.
        1.02 (r ~ 0.84): on the benchmark's tight scenario 1.05 (r ~ 0.72-0.67) lost 0.01 point
        of attainment, since prefill is compute-bound and slows by 1 / r; 1.02 lost none.
    energy_decode_shared_lock: the decode clock lock also on a GPU that shares decode with work
        without an SLO, no lower than the batch budget's keep (compute-bound work runs at the
        lock's ratio; docs/runtime.md "Energy"). Off: on the benchmark's tight scenario it
        saved 0.1 point of energy for the same work at lower attainment and batch throughput.
    reissue_after_s: a cap the GPU does not report after this long is sent again (and an
        undo of a throttle no relief holds).
    unowned_grace_s: a throttle in force that no relief holds (set before a leader change),
        a process throttle its node reports or a cooperative one its app reports, is undone
        once it has been reported so this long.
    variants: whether the variant pass runs.
    variant_pressure_s: pending work must wait this long before a variant is switched for it.
    variant_restore_s: no pressure for this long before a variant is switched back.
    variant_min_dwell_s: least time between two switches of one workload.
    """

    breach_ratio: float = 0.9
    relax_ratio: float = 0.7
    escalate_after_s: float = 10.0
    relax_after_s: float = 60.0
    relax_backoff_max: int = 2
    relax_backoff_window_s: float = 600.0
    min_change_interval_s: float = 60.0
    max_actions_per_minute: int = 120
    max_actions_per_gpu_minute: float = 0.1
    ladder: tuple[str, ...] = DEFAULT_LADDER
    throttle_factor: float = 0.5
    process_cpu_fraction: float = 0.25
    guard_cap_fraction: float = 0.55
    prefer_clock_lock: bool = False
    migrate_min_interval_s: float = 600.0
    energy: bool = True
    energy_batch_keep: float = 0.8
    energy_batch_floor: float = 0.82
    energy_slo_headroom: float = 0.0
    energy_max_step_fraction: float = 0.1
    energy_min_step_fraction: float = 0.03
    energy_backoff_s: float = 600.0
    idle_to_min: bool = True
    energy_decode_max_slowdown: float = 1.02
    energy_decode_shared_lock: bool = False
    reissue_after_s: float = 30.0
    unowned_grace_s: float = 10.0
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
            "unowned_grace_s",
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
        _range("max_actions_per_gpu_minute", self.max_actions_per_gpu_minute, 0.0, 60.0)
        _range("throttle_factor", self.throttle_factor, 0.0, 1.0, open_hi=True)
        _range("process_cpu_fraction", self.process_cpu_fraction, 0.0, 1.0, open_hi=True)
        _range("guard_cap_fraction", self.guard_cap_fraction, 0.05, 1.0)
        _range("energy_batch_keep", self.energy_batch_keep, 0.05, 1.0)
        _range("energy_batch_floor", self.energy_batch_floor, 0.0, 1.0)
        _range("energy_slo_headroom", self.energy_slo_headroom, 0.0, self.relax_ratio)
        _range("energy_min_step_fraction", self.energy_min_step_fraction, 0.0, 0.5)
        _range("energy_max_step_fraction", self.energy_max_step_fraction, 0.01, 1.0)
        _range("energy_decode_max_slowdown", self.energy_decode_max_slowdown, 1.0, 2.0)


def _finite(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(name, f"expected a finite number, got {value!r}")


def _range(name: str, value: float, lo: float, hi: float, open_hi: bool = False) -> None:
    above = value >= hi if open_hi else value > hi
    if value < lo or above:
        bracket = ")" if open_hi else "]"
        raise ConfigError(name, f"expected a value in [{lo:g}, {hi:g}{bracket}, got {value!r}")
