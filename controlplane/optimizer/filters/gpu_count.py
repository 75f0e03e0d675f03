"""The node must have at least as many GPUs as the workload asks for, used or not."""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.base import PerGpu


class GpuCount(PerGpu):
    name = "gpu_count"
    reason = "too few GPUs"
    condition = False
    load = False

    def applies(self, demand: Demand) -> bool:
        return demand.gpus > 0

    def usable(self, state: CapacityArrays, demand: Demand) -> np.ndarray:
        return state.gpu_present
