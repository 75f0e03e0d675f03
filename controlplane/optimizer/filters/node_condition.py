"""Nodes that are not ready or are cordoned take no new work."""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.base import GpuMask


class NodeReady:
    name = "node_ready"
    reason = "node not ready"
    condition = True
    load = False

    def applies(self, demand: Demand) -> bool:
        return True

    def passes(self, state: CapacityArrays, demand: Demand, gpus: GpuMask) -> np.ndarray:
        return state.ready


class NodeNotCordoned:
    name = "node_not_cordoned"
    reason = "node cordoned"
    condition = True
    load = False

    def applies(self, demand: Demand) -> bool:
        return True

    def passes(self, state: CapacityArrays, demand: Demand, gpus: GpuMask) -> np.ndarray:
        return ~state.cordoned
