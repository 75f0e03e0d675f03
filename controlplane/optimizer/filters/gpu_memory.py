"""GPU memory is per GPU: the workloads on one GPU must fit in its memory together."""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.base import PerGpu


class GpuMemory(PerGpu):
    name = "gpu_memory"
    reason = "insufficient GPU memory"
    condition = False
    load = True

    def applies(self, demand: Demand) -> bool:
        return demand.gpus > 0 and demand.gpu_memory_mib > 0

    def usable(self, state: CapacityArrays, demand: Demand) -> np.ndarray:
        return state.gpu_mem_free >= demand.gpu_memory_mib
