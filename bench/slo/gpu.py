"""One simulated GPU per control tick: the equations of SimulatedGpuBackend.view, on duties.

The benchmark needs what the agent's simulator cannot take as input: a batch job's duty cut by a
throttle, a latency service busier than its reserved share. So it applies the same perf.py
functions in the same order (tests/bench/test_slo_gpu.py checks it against
SimulatedGpuBackend.view where both apply):

    shares = perf.sm_time_shares(duties)                 time-slicing, max-min fair
    demand = perf.mixed_demand_power_w(idle, shares, P_dem per workload, after any clock lock)
    thr    = clock ratio x perf.throughput_factor(cap, demand, P0, alpha)
    power  = min(cap, demand)

One difference, by design: a latency service alone on its GPU may use more SM time than its
reserved share (time-slicing gives an idle GPU's time to whoever has work); the agent's
simulator clips it to the share.
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
    throughput: float  # speed of all work on the GPU relative to uncapped, unlocked
    power_w: float


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
) -> GpuTick:
    """duties: what each workload asks for (busy fraction); demands_w: each one's P_dem."""
    ratio = 1.0
    if clock_lock_mhz is not None:
        ratio = perf.clock_ratio(clock_lock_mhz, model.max_sm_clock_mhz)
    shares = perf.sm_time_shares(duties)
    locked = [
        max(
            model.idle_power_w,
            perf.clock_locked_demand_power_w(d, ratio, model.curve_p0_w, model.curve_alpha),
        )
        for d in demands_w
    ]
    demand = perf.mixed_demand_power_w(model.idle_power_w, shares, locked)
    thr = ratio * perf.throughput_factor(cap_w, demand, model.curve_p0_w, model.curve_alpha)
    return GpuTick(tuple(shares), demand, thr, min(cap_w, demand))
