"""Filter plugins and the pass that runs them over all nodes at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.base import Filter, GpuFilter, NodeFilter, is_gpu_filter
from controlplane.optimizer.filters.cpu import Cpu
from controlplane.optimizer.filters.gpu_count import GpuCount
from controlplane.optimizer.filters.gpu_health import GpuHealthy
from controlplane.optimizer.filters.gpu_memory import GpuMemory
from controlplane.optimizer.filters.gpu_model import GpuModel
from controlplane.optimizer.filters.gpu_share import GpuShare
from controlplane.optimizer.filters.memory import Memory
from controlplane.optimizer.filters.node_condition import NodeNotCordoned, NodeReady

# name -> factory. Order matters: a node rejected by several filters is counted under the
# first, so conditions come first, then what could never change by waiting (count, model),
# then what frees up as work finishes.
FILTERS: dict[str, Callable[[], Filter]] = {
    "node_ready": NodeReady,
    "node_not_cordoned": NodeNotCordoned,
    "gpu_count": GpuCount,
    "gpu_healthy": GpuHealthy,
    "gpu_model": GpuModel,
    "cpu": Cpu,
    "memory": Memory,
    "gpu_share": GpuShare,
    "gpu_memory": GpuMemory,
}

# The filters that hold for a node even when it is empty and healthy: used by `can_ever_fit`.
STATIC_FILTERS = ("gpu_count", "gpu_model", "cpu", "memory", "gpu_share", "gpu_memory")


def build_filters(names: Sequence[str] = tuple(FILTERS)) -> tuple[Filter, ...]:
    return tuple(FILTERS[n]() for n in names)


@dataclass(frozen=True, slots=True)
class FilterResult:
    feasible: np.ndarray  # bool[N]
    gpu_ok: np.ndarray  # bool[N, G]: GPUs that passed every GPU filter
    rejections: tuple[tuple[str, int], ...]  # (reason, nodes), most nodes first

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.feasible))


def run_filters(
    state: CapacityArrays, demand: Demand, filters: Sequence[Filter], count: bool = True
) -> FilterResult:
    alive = np.ones(state.size, dtype=bool)
    gpu_ok = state.gpu_present
    counts: dict[str, int] = {}
    for f in filters:
        if not f.applies(demand):
            continue
        if is_gpu_filter(f):
            gpu_ok = gpu_ok & f.usable(state, demand)  # type: ignore[union-attr]
            passed = np.count_nonzero(gpu_ok, axis=1) >= demand.gpus
        else:
            passed = f.passes(state, demand)  # type: ignore[union-attr]
        if count:
            rejected = int(np.count_nonzero(alive & ~passed))
            if rejected:
                counts[f.reason] = counts.get(f.reason, 0) + rejected
        alive = alive & passed
    rejections = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return FilterResult(alive, gpu_ok, rejections)


__all__ = [
    "FILTERS",
    "STATIC_FILTERS",
    "Filter",
    "FilterResult",
    "GpuFilter",
    "NodeFilter",
    "build_filters",
    "run_filters",
]
