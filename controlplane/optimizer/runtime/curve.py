"""A GPU's performance/power curve for the runtime core: the agent's documented model.

The equations are gpumodel/perf.py's (docs/gpu-model.md); the parameters come from
gpumodel/models.py by model name. Both are pure modules, imported rather than copied, so
the optimizer caps against the same curve the simulated agent obeys. A model the table does not
know gets the table's defaults for unknown parts: alpha 0.45 and P0 = 0.21 x max limit
(gpu-models.md §2), idle 15 % of the max limit [E].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from controlplane.optimizer.runtime.types import RuntimeGpu, WorkloadClass
from gpumodel import perf
from gpumodel.models import (
    DEFAULT_CURVE_ALPHA,
    P0_FRACTION_OF_MAX_LIMIT,
    UnknownGpuModelError,
    get_model,
)

# Idle draw of an unknown model as a fraction of its max limit [E]: the known rows run from
# 11 % (H100, 75 of 700 W) to 20 % (T4, 14 of 70 W); 15 % sits between.
UNKNOWN_IDLE_FRACTION: Final = 0.15
# Telemetry power within this fraction of the cap means the cap is what limits the draw.
AT_CAP_FRACTION: Final = 0.97


@dataclass(frozen=True, slots=True)
class Curve:
    idle_w: float
    p0_w: float
    alpha: float
    max_limit_w: float

    def throughput(self, cap_w: float, demand_w: float) -> float:
        return perf.throughput_factor(cap_w, demand_w, self.p0_w, self.alpha)

    def cap_for(self, keep: float, demand_w: float) -> float:
        return perf.cap_for_throughput_w(keep, demand_w, self.p0_w, self.alpha)


def curve_of(gpu: RuntimeGpu) -> Curve:
    try:
        m = get_model(gpu.model)
        idle, p0, alpha = m.idle_power_w, m.curve_p0_w, m.curve_alpha
        # The table's curve is for the table's limits; scale P0 if this part reports others.
        if m.power_limit_max_w != gpu.power_limit_max_w and m.power_limit_max_w > 0:
            p0 = p0 * gpu.power_limit_max_w / m.power_limit_max_w
    except UnknownGpuModelError:
        idle = UNKNOWN_IDLE_FRACTION * gpu.power_limit_max_w
        p0 = P0_FRACTION_OF_MAX_LIMIT * gpu.power_limit_max_w
        alpha = DEFAULT_CURVE_ALPHA
    if gpu.idle_power_w > 0:
        idle = gpu.idle_power_w
    return Curve(idle, p0, alpha, gpu.power_limit_max_w)


def demand_w(gpu: RuntimeGpu, curve: Curve) -> float:
    """The GPU's uncapped average power: what a cap is measured against.

    The prior is the simulator's mix (perf.mixed_demand_power_w) with every workload busy for
    its whole share: training at the max limit, a latency service at decode power (0.55 x max,
    gpu-models.md §2-3). An upper bound for latency services, so caps err high. When telemetry
    shows the GPU drawing more than that below its cap, the measurement wins.
    """
    shares = [w.milli_gpu / 1000.0 for w in gpu.workloads]
    demands = [
        (
            perf.LATENCY_DEMAND_FRACTION
            if w.workload_class is WorkloadClass.LATENCY
            else perf.BATCH_DEMAND_FRACTION
        )
        * curve.max_limit_w
        for w in gpu.workloads
    ]
    prior = perf.mixed_demand_power_w(curve.idle_w, shares, demands) if shares else curve.idle_w
    if gpu.power_w < AT_CAP_FRACTION * gpu.power_cap_w:
        return max(prior, gpu.power_w)
    return prior
