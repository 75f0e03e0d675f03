"""Nodes that are not ready or are cordoned take no new work: one rule, two conditions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.base import GpuMask


class NodeCondition:
    """The node must be in a condition (`holds`, per node), whatever the workload asks."""

    condition = True  # an empty healthy node always passes
    load = False  # no finishing work changes it

    def __init__(
        self, name: str, reason: str, holds: Callable[[CapacityArrays], np.ndarray]
    ) -> None:
        self.name = name
        self.reason = reason
        self._holds = holds

    def applies(self, demand: Demand) -> bool:
        return True

    def passes(self, state: CapacityArrays, demand: Demand, gpus: GpuMask) -> np.ndarray:
        return self._holds(state)


def node_ready() -> NodeCondition:
    return NodeCondition("node_ready", "node not ready", lambda s: s.ready)


def node_not_cordoned() -> NodeCondition:
    return NodeCondition("node_not_cordoned", "node cordoned", lambda s: ~s.cordoned)
