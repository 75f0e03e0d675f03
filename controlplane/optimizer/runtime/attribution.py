"""Energy per workload, also when workloads share a GPU: a pure function of one snapshot.

Each GPU's measured power is split with perf.attribute_power_w (docs/gpu-model.md §6): idle
power by reserved share (milli / 1000; the unreserved rest belongs to nobody), the power above
idle in proportion to what each workload adds, duty x (P_dem - P_idle). Telemetry gives only
the GPU's total busy fraction, so each workload's duty is estimated as its share of the
reserved milli, scaled to that busy fraction; P_dem is the model's per class (training at the
max limit, a latency service at decode power, gpu-models.md §2-3). The controller integrates
watts into Workload.energy_j each telemetry period: `add_energy_j`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from controlplane.optimizer.runtime.curve import curve_of
from controlplane.optimizer.runtime.types import RuntimeGpu, WorkloadClass
from gpumodel import perf


def gpu_power_split_w(gpu: RuntimeGpu) -> dict[str, float]:
    """Watts of this GPU's measured power per workload on it."""
    if not gpu.workloads:
        return {}
    curve = curve_of(gpu)
    used = sum(w.milli_gpu for w in gpu.workloads)
    scale = min(1.0, max(0.0, gpu.utilization)) * 1000.0 / used if used else 0.0
    fractions, weights = [], []
    for w in gpu.workloads:
        fraction = w.milli_gpu / 1000.0
        demand = curve.max_limit_w * (
            perf.LATENCY_DEMAND_FRACTION
            if w.workload_class is WorkloadClass.LATENCY
            else perf.BATCH_DEMAND_FRACTION
        )
        fractions.append(fraction)
        weights.append(fraction * scale * max(0.0, demand - curve.idle_w))
    parts = perf.attribute_power_w(max(0.0, gpu.power_w), curve.idle_w, fractions, weights)
    out: dict[str, float] = {}
    for w, watts in zip(gpu.workloads, parts, strict=True):
        out[w.key] = out.get(w.key, 0.0) + watts
    return out


def attribute_power_w(gpus: Iterable[RuntimeGpu]) -> dict[str, float]:
    """Watts per workload over all its GPUs."""
    out: dict[str, float] = {}
    for gpu in gpus:
        for key, watts in gpu_power_split_w(gpu).items():
            out[key] = out.get(key, 0.0) + watts
    return out


def add_energy_j(
    totals: Mapping[str, float], watts: Mapping[str, float], dt_s: float
) -> dict[str, float]:
    """New running totals: totals + watts x dt (dt <= 0, a clock stepped back, adds nothing)."""
    out = dict(totals)
    if dt_s > 0:
        for key, w in watts.items():
            out[key] = out.get(key, 0.0) + w * dt_s
    return out
