"""GPU fragmentation of nodes, measured against the typical workload mix (FGD's measure).

A node's fragmentation for one typical pod is the free GPU share that pod could not use there:
all of the node's free share when the pod is CPU-only or cannot be hosted on the node now (too
few GPUs with enough free share, too little free CPU, or a GPU model it doesn't accept);
otherwise the free share on the GPUs whose free share is below the pod's per-GPU request.
A node's fragmentation is the sum over typical pods, weighted by frequency.

For speed, per-GPU terms come from lookup tables indexed by free milli (0..1000), and per-node
sums over GPUs (`cnt`: GPUs a typical pod could use, `small`: free share it could not) are kept
per node and refreshed only for the rows the state changed. A candidate placement changes one
or a few GPUs, so its "after" sums are the node's sums plus a table difference.
"""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.types import MILLI_PER_GPU
from controlplane.optimizer.typical import Shape

_NEVER = np.iinfo(np.int32).max  # a GPU count no node has: CPU-only shapes are never "hosted"


class FragModel:
    """Fragmentation of every node for one set of typical shapes; weights may change freely."""

    def __init__(self, shapes: list[Shape], weights: np.ndarray) -> None:
        self.shapes = shapes
        self.weights = weights
        t = len(shapes)
        milli = np.array([max(1, s[1]) for s in shapes], dtype=np.int64)
        gpus = np.array([s[2] for s in shapes], dtype=np.int64)
        self.cpu = np.array([s[0] for s in shapes], dtype=np.int64)
        self.need = np.where(gpus > 0, gpus, _NEVER)
        f = np.arange(MILLI_PER_GPU + 1, dtype=np.int64)[:, None]
        # ge[f, t]: a GPU with f free can serve shape t; sm[f, t]: f is wasted for shape t.
        self.ge = (f >= milli[None, :]).astype(np.int32)
        self.sm = np.where(f < milli[None, :], f, 0).astype(np.int64)
        self._models = [s[3] for s in shapes]
        self._state: CapacityArrays | None = None
        self._version = np.zeros(0, dtype=np.int64)
        self.cnt = np.zeros((0, t), dtype=np.int32)
        self.small = np.zeros((0, t), dtype=np.int64)
        self.node_ok = np.zeros((0, t), dtype=bool)

    def sync(self, state: CapacityArrays) -> None:
        """Bring the per-node sums up to date with `state` (whole rebuild for a new state)."""
        if self._state is not state:
            self._state = state
            self._version = state.version.copy()
            rows = np.arange(state.size)
            self.cnt = np.zeros((state.size, len(self.shapes)), dtype=np.int32)
            self.small = np.zeros((state.size, len(self.shapes)), dtype=np.int64)
            accepted = np.array([state.accepted_models(m) for m in self._models]).reshape(
                len(self.shapes), len(state.models)
            )
            model = state.node_model.astype(np.int64)
            if len(state.models) == 0:  # no node has a GPU (CPU-only cluster): none hosts any
                self.node_ok = np.zeros((state.size, len(self.shapes)), dtype=bool)
            else:
                ok = accepted.T[np.maximum(model, 0)]
                self.node_ok = np.where(model[:, None] >= 0, ok, False)
        else:
            rows = np.flatnonzero(state.version != self._version)
            if rows.size == 0:
                return
            self._version[rows] = state.version[rows]
        free = np.clip(state.gpu_free[rows], 0, MILLI_PER_GPU)
        self.cnt[rows] = self.ge[free].sum(axis=1)
        self.small[rows] = self.sm[free].sum(axis=1)

    def frag(
        self,
        cnt: np.ndarray,
        small: np.ndarray,
        total: np.ndarray,
        cpu: np.ndarray,
        node_ok: np.ndarray,
    ) -> np.ndarray:
        """float[K]: weighted fragmentation (milli) of K (hypothetical) nodes."""
        hosted = node_ok & (cnt >= self.need) & (cpu[:, None] >= self.cpu)
        return np.where(hosted, small, total[:, None]) @ self.weights

    def before(self, state: CapacityArrays, nodes: np.ndarray) -> np.ndarray:
        return self.frag(
            self.cnt[nodes],
            self.small[nodes],
            state.gpu_free_total[nodes],
            state.cpu_free[nodes],
            self.node_ok[nodes],
        )
