"""The runtime core's input: an immutable snapshot of GPUs, the work on them, and its SLO state.

The controller builds a `RuntimeSnapshot` from its caches (inventory, latest telemetry, the
rolling p99 of each workload, the placement core's `Unschedulable` list); the SLO benchmark
builds one from its simulated GPUs. Both call the same `plan_runtime`.

Units are in the names: _w watts, _ms milliseconds, _s seconds, milli = thousandths of a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

GpuKey = tuple[str, int]  # (node name, GPU index)


class WorkloadClass(Enum):
    """What a workload is for; decides who protects whom and what an energy cap may cost."""

    LATENCY = "latency"  # serves requests against a p99 target
    BATCH = "batch"  # training, offline inference: throughput, no latency target


@dataclass(frozen=True, slots=True)
class VariantView:
    """A declared model variant (proto ModelVariant): what it costs and what it gives up."""

    name: str
    milli_gpu: int  # per-GPU share it needs, 1..1000
    gpu_memory_mib: int = 0
    latency_factor: float = 1.0  # expected latency relative to the default variant
    accuracy_cost: float = 0.0  # expected accuracy loss, 0..1


@dataclass(frozen=True, slots=True)
class RuntimeWorkload:
    """One workload as seen on one GPU (a multi-GPU workload appears on each of its GPUs).

    `p99_ms` is the controller's rolling p99 of reported latencies; None when the workload has
    no recent observations (stale or never reported): it neither meets nor breaks its SLO.
    `variants` lists every declared variant including the active one; empty = none declared.
    """

    key: str  # "namespace/name"
    priority: int
    milli_gpu: int
    workload_class: WorkloadClass = WorkloadClass.BATCH
    p99_target_ms: float = 0.0  # 0 = no latency SLO
    p99_ms: float | None = None
    variant: str = ""  # active variant; "" = the default (first declared)
    variants: tuple[VariantView, ...] = ()
    # The process throttle its node reports in force (0 = frozen); None = runs free.
    process_cpu_fraction: float | None = None
    # The cooperative throttle the application reports it holds; None = runs free (or it
    # does not say: no recent metrics).
    directive_factor: float | None = None

    @property
    def has_slo(self) -> bool:
        return self.workload_class is WorkloadClass.LATENCY and self.p99_target_ms > 0.0


@dataclass(frozen=True, slots=True)
class RuntimeGpu:
    """One GPU: its power-limit range, its current cap, its latest telemetry and its work.

    `max_sm_clock_mhz` 0 means unknown: the guard then never locks clocks on it.
    `idle_power_w` 0 means unknown: taken from the GPU model table, else estimated.
    `settable` False: its node changes no GPU settings (an agent run with --no-gpu-control,
    or no GPU control at all), so no cap or clock lock is planned for it.
    """

    node: str
    index: int
    model: str
    power_limit_min_w: float
    power_limit_max_w: float
    power_limit_default_w: float
    power_cap_w: float  # the limit in force now (telemetry)
    utilization: float  # busy fraction 0..1 (NVML utilization.gpu / 100)
    power_w: float
    workloads: tuple[RuntimeWorkload, ...] = ()
    max_sm_clock_mhz: int = 0
    idle_power_w: float = 0.0
    clock_lock_mhz: tuple[int, int] | None = None  # in force now, if any
    settable: bool = True

    @property
    def key(self) -> GpuKey:
        return (self.node, self.index)

    @property
    def used_milli(self) -> int:
        return sum(w.milli_gpu for w in self.workloads)

    @property
    def free_milli(self) -> int:
        return max(0, 1000 - self.used_milli)


@dataclass(frozen=True, slots=True)
class PendingWork:
    """Capacity pressure: a workload the placement core could not place (its Unschedulable).

    `gpus` whole GPUs, or with gpus == 1 a share of `milli_gpu` of one GPU.
    """

    workload: str
    priority: int
    gpus: int
    milli_gpu: int
    reason: str = ""  # the placement core's summary, carried into our reasons


@dataclass(frozen=True, slots=True)
class RuntimeSnapshot:
    gpus: tuple[RuntimeGpu, ...]
    pending: tuple[PendingWork, ...] = ()
