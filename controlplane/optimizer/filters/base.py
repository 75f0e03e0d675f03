"""The Filter plugin interface: may the workload go to each node, judged for all at once.

One interface, as in Kubernetes' scheduler framework. Most filters judge a node as a whole
(`passes` ignores `gpus`). A per-GPU filter (PerGpu) says which GPUs can serve one of the
workload's GPUs and narrows `gpus`; a node passes it while it still has at least
`demand.gpus` GPUs that passed every per-GPU filter so far. A rejection is a value (the
filter's `reason`, counted per node), never an exception.

Two properties of each filter say when its verdict can change, so that callers do not keep
lists of names: `condition` (it judges the node's condition, such as ready or cordoned, not
what the node has: an empty healthy node always passes) and `load` (it judges free capacity,
which work finishing or being evicted frees).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand


class GpuMask:
    """bool[N, G]: the GPUs that passed every per-GPU filter run so far."""

    def __init__(self, ok: np.ndarray) -> None:
        self.ok = ok


class Filter(Protocol):
    name: str
    reason: str
    condition: bool
    load: bool

    def applies(self, demand: Demand) -> bool: ...

    def passes(self, state: CapacityArrays, demand: Demand, gpus: GpuMask) -> np.ndarray:
        """bool[N]: True where the node passes."""
        ...


class PerGpu:
    """Base of the filters that judge each GPU; subclasses give `usable`."""

    def usable(self, state: CapacityArrays, demand: Demand) -> np.ndarray:
        """bool[N, G]: True where the GPU passes."""
        raise NotImplementedError

    def passes(self, state: CapacityArrays, demand: Demand, gpus: GpuMask) -> np.ndarray:
        gpus.ok = gpus.ok & self.usable(state, demand)
        return np.count_nonzero(gpus.ok, axis=1) >= demand.gpus
