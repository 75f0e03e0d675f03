"""Each GPU used must have the requested share free.

For a shared request (one GPU, less than 1000 milli) that means at least that much free share;
for whole GPUs it means completely free GPUs (milli == 1000).
"""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.base import PerGpu


class GpuShare(PerGpu):
    name = "gpu_share"
    reason = "insufficient free GPU share"
    condition = False
    load = True

    def applies(self, demand: Demand) -> bool:
        return demand.gpus > 0

    def usable(self, state: CapacityArrays, demand: Demand) -> np.ndarray:
        return state.gpu_free >= demand.milli
