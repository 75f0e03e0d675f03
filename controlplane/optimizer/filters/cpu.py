"""The node's free CPU must cover the request."""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand


class Cpu:
    name = "cpu"
    reason = "insufficient CPU"

    def applies(self, demand: Demand) -> bool:
        return demand.cpu_milli > 0

    def passes(self, state: CapacityArrays, demand: Demand) -> np.ndarray:
        return state.cpu_free >= demand.cpu_milli
