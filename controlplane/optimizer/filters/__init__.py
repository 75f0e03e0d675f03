"""Filter plugins and the pass that runs them over all nodes at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.base import Filter, GpuMask, PerGpu
from controlplane.optimizer.filters.gpu_count import GpuCount
from controlplane.optimizer.filters.gpu_health import GpuHealthy
from controlplane.optimizer.filters.gpu_memory import GpuMemory
from controlplane.optimizer.filters.gpu_model import GpuModel
from controlplane.optimizer.filters.gpu_share import GpuShare
from controlplane.optimizer.filters.node_condition import node_not_cordoned, node_ready
from controlplane.optimizer.filters.node_free import cpu, memory

# name -> factory. Order matters: a node rejected by several filters is counted under the
# first, so conditions come first, then what could never change by waiting (count, model),
# then what frees up as work finishes.
FILTERS: dict[str, Callable[[], Filter]] = {
    "node_ready": node_ready,
    "node_not_cordoned": node_not_cordoned,
    "gpu_count": GpuCount,
    "gpu_healthy": GpuHealthy,
    "gpu_model": GpuModel,
    "cpu": cpu,
    "memory": memory,
    "gpu_share": GpuShare,
    "gpu_memory": GpuMemory,
}


def build_filters(names: Sequence[str] = tuple(FILTERS)) -> tuple[Filter, ...]:
    return tuple(FILTERS[n]() for n in names)


def capacity_filters() -> tuple[Filter, ...]:
    """The filters an empty, healthy node must pass: failing them there means never."""
    return tuple(f for f in build_filters() if not f.condition)


def load_proof_filters() -> tuple[Filter, ...]:
    """The filters whose verdict no finishing or evicted work can change."""
    return tuple(f for f in build_filters() if not f.load)


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
    gpus = GpuMask(state.gpu_present)
    counts: dict[str, int] = {}
    for f in filters:
        if not f.applies(demand):
            continue
        passed = f.passes(state, demand, gpus)
        if count:
            rejected = int(np.count_nonzero(alive & ~passed))
            if rejected:
                counts[f.reason] = counts.get(f.reason, 0) + rejected
        alive = alive & passed
    rejections = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return FilterResult(alive, gpus.ok, rejections)


__all__ = [
    "FILTERS",
    "Filter",
    "FilterResult",
    "GpuMask",
    "PerGpu",
    "build_filters",
    "capacity_filters",
    "load_proof_filters",
    "run_filters",
]
