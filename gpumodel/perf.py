"""The GPU performance/power model: pure functions of plain floats (and numpy for series).

Shared by the simulated backend (sim.py) and the SLO benchmark, so it imports nothing from
asyncio, grpc or the agent. Equations and constants come from /work/shared/data/gpu-models.md
("gpu-models.md"); docs/gpu-model.md explains them and their limits. [E] marks an estimate.

Units are in the names: _w watts, _j joules, _ms milliseconds, _s seconds, _c degrees Celsius.
A "duty cycle" or "utilization" is a busy fraction in [0, 1] (NVML's utilization.gpu is the
fraction of time one or more kernels ran; gpu-models.md section 3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

# What a workload draws while busy and uncapped, as a fraction of the max power limit (TDP).
# gpu-models.md section 2, "Recommended simulator model": training/prefill P_dem ~ TDP;
# decode P_dem ~ 0.5-0.55 x TDP (token power 380 W of 700 W on H100, section 3).
BATCH_DEMAND_FRACTION: Final = 1.0
LATENCY_DEMAND_FRACTION: Final = 0.55

# Time-slicing cost per co-located service request [E]: "ms-scale switch cost" (gpu-models.md
# section 4, suggested simulator model).
TIMESLICE_SWITCH_MS: Final = 1.0

_J_PER_KWH: Final = 3.6e6


def throughput_factor(
    power_cap_w: float, demand_power_w: float, curve_p0_w: float, curve_alpha: float
) -> float:
    """Work done under a cap relative to uncapped, in [0, 1].

    thr = min(1, ((cap - P0) / (P_dem - P0)) ** alpha), gpu-models.md section 2: the form fitted
    to Zeus's (NSDI'23) V100/A40/RTX6000 traces; P_dem is the uncapped average power. A cap at
    or below P0 gives 0. Work whose demand is below P0 (outside the fit) slows in proportion to
    cap / demand [E].
    """
    if power_cap_w >= demand_power_w:
        return 1.0
    if demand_power_w <= curve_p0_w:
        return max(0.0, power_cap_w / demand_power_w)
    if power_cap_w <= curve_p0_w:
        return 0.0
    ratio = (power_cap_w - curve_p0_w) / (demand_power_w - curve_p0_w)
    return min(1.0, ratio**curve_alpha)


def cap_for_throughput_w(
    target_factor: float, demand_power_w: float, curve_p0_w: float, curve_alpha: float
) -> float:
    """The lowest cap that keeps `target_factor` of the throughput: the inverse of the curve.

    cap = P0 + (P_dem - P0) * thr ** (1 / alpha). The energy policy uses it to cap "toward the
    knee" while keeping a chosen share of the work (Zeus's curves are flat to ~70-80 % of the max
    limit; gpu-models.md section 2).
    """
    if not 0.0 < target_factor <= 1.0:
        raise ValueError(f"target_factor {target_factor} outside (0, 1]")
    if demand_power_w <= curve_p0_w:
        return demand_power_w * target_factor
    return curve_p0_w + (demand_power_w - curve_p0_w) * target_factor ** (1.0 / curve_alpha)


def power_draw_w(
    utilization: float, idle_power_w: float, demand_power_w: float, power_cap_w: float
) -> float:
    """Average board power: min(cap, P_idle + (P_dem - P_idle) * u), gpu-models.md section 3."""
    u = min(1.0, max(0.0, utilization))
    return min(power_cap_w, idle_power_w + (demand_power_w - idle_power_w) * u)


def mixed_demand_power_w(
    idle_power_w: float, duty_cycles: Sequence[float], demand_powers_w: Sequence[float]
) -> float:
    """Uncapped average power of a GPU time-sliced between workloads.

    Each workload adds (its P_dem - P_idle) for the fraction of time it runs: the section 3 line
    summed over workloads. Duty cycles whose sum exceeds 1 are first scaled to the SM time each
    actually gets (`sm_time_shares`).
    """
    shares = sm_time_shares(duty_cycles)
    return idle_power_w + sum(
        s * (p - idle_power_w) for s, p in zip(shares, demand_powers_w, strict=True)
    )


def sm_time_shares(duty_cycles: Sequence[float]) -> list[float]:
    """Each workload's fraction of SM time under time-slicing (max-min fair).

    When the duty cycles fit (sum <= 1) each workload gets what it asks. Otherwise the
    round-robin scheduler of time-slicing splits time equally among those still wanting more:
    water-filling, so a light workload keeps its duty and heavy ones share the rest.
    """
    wants = [min(1.0, max(0.0, d)) for d in duty_cycles]
    if sum(wants) <= 1.0:
        return wants
    shares = [0.0] * len(wants)
    remaining = 1.0
    pending = sorted(range(len(wants)), key=lambda i: wants[i])
    while pending:
        fair = remaining / len(pending)
        i = pending[0]
        if wants[i] <= fair:
            shares[i] = wants[i]
            remaining -= wants[i]
            pending.pop(0)
        else:
            for j in pending:
                shares[j] = fair
            break
    return shares


def timeslice_slowdown(co_runner_duty_cycles: Sequence[float]) -> float:
    """Service-time multiplier of a latency-critical workload: 1 + sum of co-runner duties.

    gpu-models.md section 4, suggested simulator model for time-slicing [E]: while neighbours
    hold the SMs a request waits for their slices.
    """
    return 1.0 + sum(min(1.0, max(0.0, d)) for d in co_runner_duty_cycles)


def timeslice_service_time_ms(
    alone_service_time_ms: float,
    co_runner_duty_cycles: Sequence[float],
    switch_ms: float = TIMESLICE_SWITCH_MS,
    throughput: float = 1.0,
) -> float:
    """A request's service time on a shared, possibly capped GPU.

    alone / throughput x (1 + sum of co-runner duties) + a switch cost when there are co-runners
    (section 4). `throughput` is `throughput_factor` of the GPU's cap; it must be > 0.
    """
    if throughput <= 0.0:
        return math.inf
    busy_neighbours = any(d > 0.0 for d in co_runner_duty_cycles)
    slowed = alone_service_time_ms / throughput * timeslice_slowdown(co_runner_duty_cycles)
    return slowed + (switch_ms if busy_neighbours else 0.0)


def clock_ratio(locked_max_mhz: float, max_sm_clock_mhz: float) -> float:
    """A clock lock's ceiling as a fraction of the maximum SM clock, in (0, 1]."""
    return min(1.0, max(0.0, locked_max_mhz / max_sm_clock_mhz))


def clock_locked_demand_power_w(
    demand_power_w: float, ratio: float, curve_p0_w: float, curve_alpha: float
) -> float:
    """Uncapped power of work whose SM clock is locked to `ratio` of the maximum [E].

    A lock is modelled as the cap that gives the same throughput: compute-bound work runs at
    `ratio` of its speed, and the fitted curve says what power that speed needs,
    P0 + (P_dem - P0) * ratio ** (1 / alpha). alpha ~ 1/3-1/2 is the DVFS law P ~ f^3
    (gpu-models.md section 2). Memory-bound decode loses less in reality (the Ma et al. note in
    section 2); the model is conservative there.
    """
    if ratio >= 1.0 or demand_power_w <= curve_p0_w:
        return demand_power_w
    return cap_for_throughput_w(max(ratio, 1e-9), demand_power_w, curve_p0_w, curve_alpha)


@dataclass(frozen=True, slots=True)
class ThermalParams:
    """A first-order thermal model [E]: no source in gpu-models.md; plausible air/liquid-cooled
    datacenter values. The die relaxes toward ambient + rise x (power / max limit)."""

    ambient_c: float = 30.0
    rise_at_max_limit_c: float = 45.0  # so a GPU at its max limit settles near 75 C
    time_constant_s: float = 20.0


def steady_temperature_c(power_w: float, max_power_limit_w: float, thermal: ThermalParams) -> float:
    return thermal.ambient_c + thermal.rise_at_max_limit_c * power_w / max_power_limit_w


def temperature_step_c(
    temperature_c: float,
    power_w: float,
    dt_s: float,
    max_power_limit_w: float,
    thermal: ThermalParams,
) -> float:
    """Temperature after `dt_s` at constant power: the exact solution of dT/dt = (T* - T) / tau."""
    target = steady_temperature_c(power_w, max_power_limit_w, thermal)
    if dt_s <= 0.0:
        return temperature_c
    return target + (temperature_c - target) * math.exp(-dt_s / thermal.time_constant_s)


def energy_j(power_w: float, dt_s: float) -> float:
    return power_w * dt_s


def integrate_energy_j(times_s: npt.ArrayLike, powers_w: npt.ArrayLike) -> float:
    """Energy of a power series by the trapezoid rule (samples at `times_s`, ascending)."""
    t = np.asarray(times_s, dtype=np.float64)
    p = np.asarray(powers_w, dtype=np.float64)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError("times_s and powers_w must be 1-D and the same length")
    if t.size < 2:
        return 0.0
    if np.any(np.diff(t) < 0):
        raise ValueError("times_s must be ascending")
    return float(np.sum((p[1:] + p[:-1]) * 0.5 * np.diff(t)))


def joules_to_kwh(joules: float) -> float:
    return joules / _J_PER_KWH


def attribute_power_w(
    power_w: float,
    idle_power_w: float,
    gpu_fractions: Sequence[float],
    dynamic_weights_w: Sequence[float],
) -> list[float]:
    """Split one GPU's power among the workloads sharing it.

    Idle power is split by each workload's reserved fraction of the GPU (milli / 1000; what is
    not reserved is nobody's). The rest (power above idle) is split in proportion to
    `dynamic_weights_w`, normally duty x (P_dem - P_idle), i.e. what each adds to the draw.
    The parts sum to at most `power_w`.
    """
    if len(gpu_fractions) != len(dynamic_weights_w):
        raise ValueError("gpu_fractions and dynamic_weights_w differ in length")
    idle_part = min(power_w, idle_power_w)
    dynamic = max(0.0, power_w - idle_power_w)
    total_weight = sum(max(0.0, w) for w in dynamic_weights_w)
    parts = []
    for fraction, weight in zip(gpu_fractions, dynamic_weights_w, strict=True):
        dyn = dynamic * max(0.0, weight) / total_weight if total_weight > 0 else 0.0
        parts.append(idle_part * min(1.0, max(0.0, fraction)) + dyn)
    return parts


# ---------------------------------------------------------------------------------- phases
# Decode, prefill and training respond differently to caps and clocks (docs/gpu-model.md §5).
# These curves come from published figures (/work/shared/data/README.md "Published figures on
# clocks and caps in LLM decode", splitwise/perf_model.csv), not from a sweep here.
Phase = Literal["decode", "prefill", "training"]
PHASES: Final[tuple[Phase, ...]] = ("decode", "prefill", "training")

# Decode's busy power as a fraction of the max limit: Splitwise token power 380 of 700 W
# (0.54, gpu-models.md §3); Ma et al. measure 137-300 W on a 700 W H200 (0.2-0.43). The
# project's H200 measurement drew more (0.74-0.92, docs/gpu-model.md §9); see §8 there.
DECODE_DEMAND_FRACTION: Final = LATENCY_DEMAND_FRACTION
# Prefill and training are compute-bound and sit at the limit (gpu-models.md §2; the H200's
# matrix work at 690 W of 700 W, docs/gpu-model.md §9).
PREFILL_DEMAND_FRACTION: Final = 1.0
TRAINING_DEMAND_FRACTION: Final = BATCH_DEMAND_FRACTION
# Prefill's exponent in the Zeus form, fitted so a 70 % cap gives Splitwise's x1.30 prompt
# time on the H100 (every h100-80gb-pcap row of perf_model.csv: prompt x1.30, token x1.00)
# with P0 = 0.21 x max limit: ln(1/1.30) / ln((0.70 - 0.21) / (1 - 0.21)) = 0.549.
PREFILL_CURVE_ALPHA: Final = 0.549
# Share of a decode step that does not shrink with the SM clock (memory-bound) [E]: chosen so
# that 1,410 -> 1,005 MHz (VoltanaLLM) raises decode time sub-linearly (x1.04, not x1.40) and
# Ma et al.'s "minimal throughput loss" holds at the energy optimum (<= 12 % slower).
DECODE_MEMORY_BOUND_FRACTION: Final = 0.9
# Share of decode's power above idle that scales with the SM clock (P ~ f^3 on that share;
# the rest is HBM and I/O power that follows the memory traffic) [E]: chosen so the clock-lock
# energy saving peaks within the published range, up to 32 % (Ma et al., H200) to 36.3 %
# (VoltanaLLM, A100), with energy U-shaped in frequency.
DECODE_CLOCK_POWER_SHARE: Final = 0.57
# Lowest SM clock a lock may set, as a fraction of the max (210 of 1980 MHz on H100, [E]).
MIN_CLOCK_RATIO: Final = 0.1


def phase_demand_w(phase: Phase, max_limit_w: float, idle_w: float) -> float:
    """A phase's uncapped, unlocked busy power."""
    fraction = {
        "decode": DECODE_DEMAND_FRACTION,
        "prefill": PREFILL_DEMAND_FRACTION,
        "training": TRAINING_DEMAND_FRACTION,
    }[phase]
    return max(idle_w, fraction * max_limit_w)


def decode_time_factor(ratio: float) -> float:
    """Decode step time at SM clock `ratio` of the max, relative to the max: m + (1 - m) / r."""
    r = min(1.0, max(MIN_CLOCK_RATIO, ratio))
    m = DECODE_MEMORY_BOUND_FRACTION
    return m + (1.0 - m) / r


def decode_power_w(ratio: float, demand_w: float, idle_w: float) -> float:
    """Decode's busy power at SM clock `ratio`: idle + (P_dem - idle) x (1 - s + s r^3)."""
    r = min(1.0, max(MIN_CLOCK_RATIO, ratio))
    s = DECODE_CLOCK_POWER_SHARE
    return idle_w + max(0.0, demand_w - idle_w) * (1.0 - s + s * r**3)


def decode_clock_ratio_under_cap(cap_w: float, demand_w: float, idle_w: float) -> float:
    """The clock the power limiter settles decode at under `cap_w` (1.0 when the cap is above
    decode's demand: caps rarely bind on decode, Ma et al.). The inverse of decode_power_w."""
    if cap_w >= demand_w:
        return 1.0
    dyn = max(1e-9, demand_w - idle_w)
    s = DECODE_CLOCK_POWER_SHARE
    x = ((cap_w - idle_w) / dyn - (1.0 - s)) / s
    return MIN_CLOCK_RATIO if x <= MIN_CLOCK_RATIO**3 else min(1.0, x ** (1.0 / 3.0))


@dataclass(frozen=True, slots=True)
class PhasePower:
    """What a phase's speed and power under a cap or a clock lock depend on: its uncapped
    demand (phase_demand_w), the board's idle power, and the GPU's fitted Zeus curve (P0 in
    watts, alpha; prefill uses PREFILL_CURVE_ALPHA instead)."""

    demand_w: float
    idle_w: float
    curve_p0_w: float
    curve_alpha: float


def phase_speed(phase: Phase, cap_w: float, clock_ratio_value: float, power: PhasePower) -> float:
    """Work done per second relative to uncapped and unlocked, in [0, 1].

    decode: the effective clock is the lower of the lock and the clock the cap allows; speed is
    1 / decode_time_factor. Below the power of the lowest clock it falls as cap / power [E].
    prefill / training: compute-bound, speed = lock ratio x the Zeus curve of the locked demand
    (prefill with PREFILL_CURVE_ALPHA, training with the GPU's fitted alpha).
    """
    p = power
    r_lock = min(1.0, max(MIN_CLOCK_RATIO, clock_ratio_value))
    if phase == "decode":
        floor_w = decode_power_w(MIN_CLOCK_RATIO, p.demand_w, p.idle_w)
        r = min(r_lock, decode_clock_ratio_under_cap(cap_w, p.demand_w, p.idle_w))
        speed = 1.0 / decode_time_factor(r)
        if cap_w < floor_w:
            speed *= max(0.0, cap_w) / floor_w
        return speed
    alpha = PREFILL_CURVE_ALPHA if phase == "prefill" else p.curve_alpha
    locked = clock_locked_demand_power_w(p.demand_w, r_lock, p.curve_p0_w, alpha)
    return r_lock * throughput_factor(cap_w, locked, p.curve_p0_w, alpha)


def phase_power_w(phase: Phase, cap_w: float, clock_ratio_value: float, power: PhasePower) -> float:
    """Busy board power of a phase under a cap and a clock lock (never above the cap)."""
    p = power
    r_lock = min(1.0, max(MIN_CLOCK_RATIO, clock_ratio_value))
    if phase == "decode":
        return min(cap_w, decode_power_w(r_lock, p.demand_w, p.idle_w))
    alpha = PREFILL_CURVE_ALPHA if phase == "prefill" else p.curve_alpha
    return min(cap_w, clock_locked_demand_power_w(p.demand_w, r_lock, p.curve_p0_w, alpha))


def phase_energy_per_work(
    phase: Phase, cap_w: float, clock_ratio_value: float, power: PhasePower
) -> float:
    """Energy per unit of work relative to uncapped and unlocked (power / speed, normalised)."""
    speed = phase_speed(phase, cap_w, clock_ratio_value, power)
    if speed <= 0.0:
        return math.inf
    base = phase_power_w(phase, math.inf, 1.0, power) / phase_speed(phase, math.inf, 1.0, power)
    return phase_power_w(phase, cap_w, clock_ratio_value, power) / speed / base


def best_decode_clock_ratio(demand_w: float, idle_w: float, max_slowdown: float) -> float:
    """The clock that minimises decode's energy per token within `max_slowdown` (e.g. 1.10):
    a grid over [MIN_CLOCK_RATIO, 1] in 0.01 steps, since energy is U-shaped in frequency."""
    best_r, best_e = 1.0, 1.0
    for i in range(int(MIN_CLOCK_RATIO * 100), 101):
        r = i / 100.0
        if decode_time_factor(r) > max_slowdown:
            continue
        e = decode_power_w(r, demand_w, idle_w) * decode_time_factor(r) / demand_w
        if e < best_e - 1e-12:
            best_r, best_e = r, e
    return best_r
