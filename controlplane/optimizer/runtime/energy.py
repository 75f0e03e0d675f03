"""The energy pass's decision for one GPU: a cap toward the knee, the minimum, or none.

- Idle GPU (nothing placed): its minimum power limit. In the linear power model an idle GPU
  draws its idle power under any cap, so this saves nothing by itself; it bounds the draw of
  whatever lands there before the next pass, and it is what the issue asks.
- Work without an SLO: the cap that keeps `batch_keep` of throughput on the fitted curve
  (perf.cap_for_throughput_w), i.e. toward the knee of Zeus's curves. `batch_keep` is the
  cluster's batch budget (budget.py): what the SLO guard's relief leaves of the batch floor.
- Work with an SLO: by default (`energy_slo_headroom` 0) no cap that slows it. With a headroom,
  capped only as far as the p99 predicted under the new cap stays under target x headroom.
  Service time scales as 1 / throughput (perf.timeslice_service_time_ms), so
  p99_new = p99_now x thr_now / thr_new.
- An SLO in breach lifts the cap at once and the GPU is left alone for `energy_backoff_s`; the
  cap that was in force becomes a floor, so the next attempt stops higher.
- An SLO in the hysteresis band, or with an unknown p99, holds the cap where it is.
- A GPU that serves decode (an SLO workload, every one with slack): no cap, but an SM clock
  lock at the lowest-energy clock whose decode step stays within `energy_decode_max_slowdown`
  and whose predicted p99 stays under the relax ratio of its target, both as p99 x the decode
  step's factor and as p99 / r (prefill is compute-bound and its stalls make the tail)
  (perf.best_decode_clock_ratio; docs/gpu-model.md §5). A breach lifts it like a cap. With
  batch work on the GPU too (`energy_decode_shared_lock`), the lock is no lower than the
  batch budget: compute-bound work runs at the lock's ratio, so r >= batch_keep keeps what a
  knee cap would keep, while the decode server, memory-bound, slows by x1.02 where a cap of
  the same batch speed would slow it as much as the batch work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from controlplane.optimizer.runtime.actions import Reason
from controlplane.optimizer.runtime.config import RuntimeConfig
from controlplane.optimizer.runtime.curve import curve_of, demand_w
from controlplane.optimizer.runtime.memory import GpuControl
from controlplane.optimizer.runtime.slo_judge import SloState, SloVerdict
from controlplane.optimizer.runtime.types import RuntimeGpu
from gpumodel import perf

_ROUND_W = 5.0  # caps are set in 5 W steps: finer than telemetry noise is not worth a command


@dataclass(frozen=True, slots=True)
class EnergyDecision:
    """kind: "idle", "knee", "clock", "lift", "hold" or "none"; cap_w None = the default limit;
    clock_lock_mhz: the SM clock lock a "clock" decision sets (min, max)."""

    kind: str
    cap_w: float | None
    reason: Reason
    clock_lock_mhz: tuple[int, int] | None = None


def decide_energy(
    gpu: RuntimeGpu,
    verdicts: dict[str, SloVerdict],
    slack_since: dict[str, float],
    control: GpuControl,
    now: float,
    config: RuntimeConfig,
    batch_keep: float | None = None,
) -> EnergyDecision:
    """batch_keep: the throughput share a cap keeps on a GPU with work without an SLO
    (budget.py); None = `energy_batch_keep`."""
    here = f"{gpu.node}/{gpu.index}"
    current = control.cap_w if control.owner in ("energy", "idle") else None
    mine = [verdicts[w.key] for w in gpu.workloads if w.key in verdicts]
    breaking = [v for v in mine if v.state is SloState.BREACH]
    if breaking:
        worst = max(breaking, key=lambda v: v.ratio or 0.0)
        return EnergyDecision(
            "lift",
            None,
            Reason(
                "energy_cap_lifted",
                f"{here}: {worst.workload} p99 {worst.p99_ms:.1f} ms > target "
                f"{worst.target_ms:g} ms: energy cap lifted",
                (
                    ("p99_ms", round(worst.p99_ms or 0.0, 3)),
                    ("target_ms", worst.target_ms),
                    ("cap_w", current or 0.0),
                ),
            ),
        )
    if not config.energy:
        return EnergyDecision("none", None, Reason("energy_off", f"{here}: energy pass off"))
    if not gpu.workloads:
        if not config.idle_to_min:
            return EnergyDecision("none", None, Reason("energy_idle", f"{here}: idle"))
        return EnergyDecision(
            "idle",
            gpu.power_limit_min_w,
            Reason(
                "energy_cap_idle",
                f"{here}: idle: cap at its minimum {gpu.power_limit_min_w:g} W",
                (("cap_w", gpu.power_limit_min_w),),
            ),
        )
    waiting = [v for v in mine if v.state in (SloState.HOLD, SloState.UNKNOWN)]
    if waiting:
        v = waiting[0]
        why = "p99 unknown" if v.state is SloState.UNKNOWN else "p99 in the hysteresis band"
        return EnergyDecision(
            "hold",
            current,
            Reason(
                "energy_cap_held",
                f"{here}: {v.workload} {why}: cap held",
                (("cap_w", current or 0),),
            ),
        )
    young = [v for v in mine if now - slack_since.get(v.workload, now) < config.relax_after_s]
    if young:
        v = young[0]
        return EnergyDecision(
            "hold",
            current,
            Reason(
                "energy_cap_held",
                f"{here}: {v.workload} has had slack for "
                f"{now - slack_since.get(v.workload, now):.0f} s of "
                f"{config.relax_after_s:g} s: cap held",
                (("cap_w", current or 0),),
            ),
        )
    if control.lifted_at is not None and now - control.lifted_at < config.energy_backoff_s:
        return EnergyDecision(
            "hold",
            None,
            Reason(
                "energy_backoff",
                f"{here}: an SLO needed the cap lifted {now - control.lifted_at:.0f} s ago: "
                f"no energy cap for {config.energy_backoff_s:g} s",
                (("since_lift_s", round(now - control.lifted_at, 1)),),
            ),
        )
    keep = config.energy_batch_keep
    if batch_keep is not None and any(not w.has_slo for w in gpu.workloads):
        keep = batch_keep  # the cap slows batch work here: what the budget allows
    decode = _decode_clock(gpu, mine, config, keep)
    if decode is not None:
        return decode
    return _knee(gpu, mine, control, current, config, keep)


def _knee(
    gpu: RuntimeGpu,
    mine: list[SloVerdict],
    control: GpuControl,
    current: float | None,
    config: RuntimeConfig,
    keep: float,
) -> EnergyDecision:
    here = f"{gpu.node}/{gpu.index}"
    curve = curve_of(gpu)
    demand = demand_w(gpu, curve)
    binding = "no SLO: keep"
    thr_now = curve.throughput(current if current is not None else gpu.power_limit_max_w, demand)
    for v in mine:  # every SLO here has slack (see decide_energy)
        if config.energy_slo_headroom <= 0.0:  # no energy cap may slow an SLO workload
            keep, binding = 1.0, f"{v.workload} has an SLO: keep"
            break
        p99 = v.p99_ms or 0.0
        need = p99 * thr_now / (config.energy_slo_headroom * v.target_ms)
        if need > keep:
            keep, binding = min(1.0, need), f"{v.workload} slack allows"
    cap = _clamp(curve.cap_for(keep, demand), gpu, control.floor_w)
    # Come down gradually (lifting is at once): each step shows in the p99 before the next.
    # The first step starts from what the GPU draws, not from its limit: a cap above the
    # demand changes nothing.
    start = min(current if current is not None else gpu.power_limit_max_w, demand)
    step_floor = start - config.energy_max_step_fraction * gpu.power_limit_max_w
    cap = max(cap, _clamp(step_floor, gpu, control.floor_w))
    fields = (
        ("cap_w", cap),
        ("demand_w", round(demand, 1)),
        ("keep", round(keep, 4)),
        ("max_limit_w", gpu.power_limit_max_w),
    )
    if cap >= gpu.power_limit_max_w or cap >= demand:
        return EnergyDecision(
            "none",
            None,
            Reason(
                "energy_no_cap",
                f"{here}: a cap keeping {keep:.0%} would be at or above its "
                f"demand {demand:.0f} W: none",
                fields,
            ),
        )
    return EnergyDecision(
        "knee",
        cap,
        Reason(
            "energy_cap_knee",
            f"{here}: cap {cap:g} W of {gpu.power_limit_max_w:g} W ({binding} {keep:.0%} of "
            f"throughput; demand {demand:.0f} W)",
            fields,
        ),
    )


def _decode_clock(
    gpu: RuntimeGpu, mine: list[SloVerdict], config: RuntimeConfig, batch_keep: float
) -> EnergyDecision | None:
    """The clock lock for a GPU that serves decode, or None (no SLO work here, batch work
    with the shared lock off, or no lock pays). batch_keep: the least speed batch work here
    may keep (the budget), which bounds the lock from below."""
    if config.energy_decode_max_slowdown <= 1.0 or gpu.max_sm_clock_mhz <= 0:
        return None
    if config.energy_slo_headroom > 0.0:  # the operator chose SLO caps instead
        return None
    if not gpu.workloads or not any(w.has_slo for w in gpu.workloads):
        return None
    shared = not all(w.has_slo for w in gpu.workloads)
    if shared and not config.energy_decode_shared_lock:
        return None
    allowed = config.energy_decode_max_slowdown
    lowest = perf.MIN_CLOCK_RATIO
    for v in mine:  # the predicted p99 must stay under the relax ratio of its target
        if v.p99_ms and v.p99_ms > 0:
            room = config.relax_ratio * v.target_ms / v.p99_ms
            allowed = min(allowed, room)
            # Prefill is compute-bound (docs/gpu-model.md §5): it runs at the lock's ratio r,
            # and a decode server's tail comes from the prefills that stall its steps. So
            # the p99 is also predicted as if all of it stretched by 1 / r.
            lowest = max(lowest, 1.0 / room)
    curve = curve_of(gpu)
    decode_w = perf.phase_demand_w("decode", curve.max_limit_w, curve.idle_w)
    ratio = max(perf.best_decode_clock_ratio(decode_w, curve.idle_w, allowed), lowest)
    ratio = math.ceil(ratio * 100.0 - 1e-9) / 100.0
    if shared:  # compute-bound work runs at the lock's ratio: no lower than the budget
        ratio = max(ratio, math.ceil(batch_keep * 100.0 - 1e-9) / 100.0)
    if ratio >= 1.0:
        return None
    mhz = max(1, math.ceil(ratio * gpu.max_sm_clock_mhz - 1e-9))  # never below the ratio
    slowdown = perf.decode_time_factor(ratio)
    saved = 1.0 - perf.phase_energy_per_work(
        "decode",
        curve.max_limit_w,
        ratio,
        perf.PhasePower(decode_w, curve.idle_w, curve.p0_w, curve.alpha),
    )
    here = f"{gpu.node}/{gpu.index}"
    return EnergyDecision(
        "clock",
        None,
        Reason(
            "energy_decode_clock_lock",
            f"{here}: {'decode next to batch work' if shared else 'decode only'}: SM clock "
            f"locked to {mhz} MHz (step x{slowdown:.3f}, ~{saved:.0%} less energy per token"
            + (f"; batch work keeps {ratio:.0%}" if shared else "")
            + ")",
            (
                ("max_mhz", mhz),
                ("slowdown", round(slowdown, 4)),
                ("saved", round(saved, 4)),
                ("batch_keep", round(ratio, 4) if shared else 1.0),
            ),
        ),
        (mhz, mhz),
    )


def _clamp(cap_w: float, gpu: RuntimeGpu, floor_w: float) -> float:
    stepped = _ROUND_W * -(-cap_w // _ROUND_W)  # round up: never below what keeps `keep`
    return max(gpu.power_limit_min_w, floor_w, min(gpu.power_limit_max_w, stepped))
