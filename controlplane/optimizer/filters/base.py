"""The two kinds of Filter plugin.

A node filter says per node whether the workload may go there. A GPU filter says per GPU
whether that GPU can serve one of the workload's GPUs; a node passes it while it still has at
least `demand.gpus` GPUs that passed every GPU filter so far. A rejection is a value (the
filter's `reason`, counted per node), never an exception.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand


class NodeFilter(Protocol):
    name: str
    reason: str

    def applies(self, demand: Demand) -> bool: ...

    def passes(self, state: CapacityArrays, demand: Demand) -> np.ndarray:
        """bool[N]: True where the node passes."""
        ...


class GpuFilter(Protocol):
    name: str
    reason: str

    def applies(self, demand: Demand) -> bool: ...

    def usable(self, state: CapacityArrays, demand: Demand) -> np.ndarray:
        """bool[N, G]: True where the GPU passes."""
        ...


Filter = NodeFilter | GpuFilter


def is_gpu_filter(f: Filter) -> bool:
    return hasattr(f, "usable")
