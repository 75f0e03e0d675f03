"""The node's free memory must cover the request."""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.base import GpuMask


class Memory:
    name = "memory"
    reason = "insufficient memory"
    condition = False
    load = True

    def applies(self, demand: Demand) -> bool:
        return demand.memory_mib > 0

    def passes(self, state: CapacityArrays, demand: Demand, gpus: GpuMask) -> np.ndarray:
        return state.mem_free >= demand.memory_mib
