"""One simulated GPU per control tick: the equations of SimulatedGpuBackend.view, on duties.

The benchmark needs what the agent's simulator cannot take as input: a batch job's duty cut by a
throttle, a latency service busier than its reserved share. So it applies the same perf.py
functions in the same order (tests/bench/test_slo_gpu.py checks it against
SimulatedGpuBackend.view where both apply):

    shares = perf.sm_time_shares(duties)                 time-slicing, max-min fair
    demand = perf.mixed_demand_power_w(idle, shares, P_dem per workload, after any clock lock)
    thr    = clock ratio x perf.throughput_factor(cap, demand, P0, alpha)
    power  = min(cap, demand)

Two differences, by design:
- a latency service alone on its GPU may use more SM time than its reserved share
  (time-slicing gives an idle GPU's time to whoever has work); the agent's simulator clips it
  to the share;
- under a clock lock, a latency service's decode follows the phase-aware curves of
  docs/gpu-model.md §5 (memory-bound: its step stretches by perf.decode_time_factor(r), far
  less than 1 / r, and its power falls as perf.decode_power_w(r)); batch work and prefill stay
  compute-bound (speed r, power on the fitted curve). The agent's simulator treats every
  lock as compute-bound, so the two differ only for latency work under a lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gpumodel import perf
from gpumodel.models import GpuModel


@dataclass(frozen=True, slots=True)
class GpuTick:
    shares: tuple[float, ...]  # SM time per workload, in the order given
    demand_w: float  # uncapped average power of the mix (after any clock lock)
    throughput: float  # speed of compute-bound work (batch, prefill) relative to unlocked
    power_w: float
    decode_throughput: float = 1.0  # speed of a decode step relative to uncapped, unlocked
    service_w: tuple[float, ...] = ()  # what each workload adds above idle, uncapped


def latency_demand_w(model: GpuModel) -> float:
    return max(model.idle_power_w, perf.LATENCY_DEMAND_FRACTION * model.power_limit_max_w)


def batch_demand_w(model: GpuModel) -> float:
    return max(model.idle_power_w, perf.BATCH_DEMAND_FRACTION * model.power_limit_max_w)


def gpu_tick(
    model: GpuModel,
    cap_w: float,
    clock_lock_mhz: int | None,
    duties: Sequence[float],
    demands_w: Sequence[float],
    latency: Sequence[bool] | None = None,
) -> GpuTick:
    """duties: what each workload asks for (busy fraction); demands_w: each one's P_dem;
    latency: which workloads are decode servers (phase-aware under a clock lock; None = none)."""
    ratio = 1.0
    if clock_lock_mhz is not None:
        ratio = perf.clock_ratio(clock_lock_mhz, model.max_sm_clock_mhz)
    is_latency = list(latency) if latency is not None else [False] * len(demands_w)
    shares = perf.sm_time_shares(duties)
    locked = [
        max(
            model.idle_power_w,
            perf.decode_power_w(ratio, d, model.idle_power_w)
            if lat and ratio < 1.0
            else perf.clock_locked_demand_power_w(d, ratio, model.curve_p0_w, model.curve_alpha),
        )
        for d, lat in zip(demands_w, is_latency, strict=True)
    ]
    demand = perf.mixed_demand_power_w(model.idle_power_w, shares, locked)
    capped = perf.throughput_factor(cap_w, demand, model.curve_p0_w, model.curve_alpha)
    decode = capped / perf.decode_time_factor(ratio) if ratio < 1.0 else capped
    added = tuple(sh * (p - model.idle_power_w) for sh, p in zip(shares, locked, strict=True))
    return GpuTick(tuple(shares), demand, ratio * capped, min(cap_w, demand), decode, added)
