"""The node's free CPU and its free memory must cover the request: one rule, two resources."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.base import GpuMask


class NodeFree:
    """A node-wide resource: the node's free amount (`free`, per node) covers the demand's."""

    condition = False  # an empty node has all of it
    load = True  # finishing or evicted work frees it

    def __init__(
        self,
        name: str,
        reason: str,
        free: Callable[[CapacityArrays], np.ndarray],
        wanted: Callable[[Demand], int],
    ) -> None:
        self.name = name
        self.reason = reason
        self._free = free
        self._wanted = wanted

    def applies(self, demand: Demand) -> bool:
        return self._wanted(demand) > 0

    def passes(self, state: CapacityArrays, demand: Demand, gpus: GpuMask) -> np.ndarray:
        return self._free(state) >= self._wanted(demand)


def cpu() -> NodeFree:
    return NodeFree("cpu", "insufficient CPU", lambda s: s.cpu_free, lambda d: d.cpu_milli)


def memory() -> NodeFree:
    return NodeFree("memory", "insufficient memory", lambda s: s.mem_free, lambda d: d.memory_mib)
