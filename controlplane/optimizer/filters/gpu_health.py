"""Unhealthy GPUs take no new work (a fatal XID or new uncorrected ECC errors: docs/health.md).

Work already there is moved off by the leader (controlplane/leader/health.py); this filter
only keeps the placement pass, migration targets and `aiwo explain` away from them.
"""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.base import PerGpu


class GpuHealthy(PerGpu):
    name = "gpu_healthy"
    reason = "GPU unhealthy"
    condition = True  # a node's state, not what it has: a healthy empty node passes
    load = False  # no work finishing or evicted makes a GPU healthy

    def applies(self, demand: Demand) -> bool:
        return demand.gpus > 0

    def usable(self, state: CapacityArrays, demand: Demand) -> np.ndarray:
        healthy = state.gpu_healthy
        return state.gpu_present if healthy is None else healthy
