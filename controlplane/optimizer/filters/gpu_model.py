"""Only GPUs of a model the workload accepts count (an empty list accepts any model)."""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.base import PerGpu


class GpuModel(PerGpu):
    name = "gpu_model"
    reason = "GPU model not accepted"
    condition = False
    load = False

    def applies(self, demand: Demand) -> bool:
        return demand.gpus > 0 and bool(demand.models)

    def usable(self, state: CapacityArrays, demand: Demand) -> np.ndarray:
        return state.accepted_gpus(demand)
