"""The node's free CPU must cover the request."""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.base import GpuMask


class Cpu:
    name = "cpu"
    reason = "insufficient CPU"
    condition = False
    load = True

    def applies(self, demand: Demand) -> bool:
        return demand.cpu_milli > 0

    def passes(self, state: CapacityArrays, demand: Demand, gpus: GpuMask) -> np.ndarray:
        return state.cpu_free >= demand.cpu_milli
