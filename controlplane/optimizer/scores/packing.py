"""GpuPacking (paper baseline): prefer shared GPUs, then used nodes, then empty nodes.

From the paper's simulator, highest first:
1. the request fits on a partly used GPU: 100 − (free % of that GPU) / 10, at least 50;
2. it needs completely free GPUs on a used node: 50 − GPUs taken, at least 33;
3. the node is entirely free: 33 − its free GPUs, at least that number.
CPU-only requests score 0 everywhere (ties go to the node priority).
"""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.scores.base import ScoreInput, Scores, best_fit_gpu
from controlplane.optimizer.types import MILLI_PER_GPU


class GpuPacking:
    name = "packing"

    def score(self, inp: ScoreInput) -> Scores:
        s, d, k = inp.state, inp.demand, inp.nodes
        if d.gpus == 0:
            return Scores(np.zeros(len(k)))
        full = s.full_free[k].astype(np.int64)
        empty = full == s.gpu_count[k]
        gpu = None
        if d.shared:
            gpu = best_fit_gpu(s.gpu_free[k], inp.gpu_ok)
            left = s.gpu_free[k][np.arange(len(k)), gpu].astype(np.int64)
            used_gpu = np.maximum(100 - (left * 100 // MILLI_PER_GPU) // 10, 50)
            values = np.where(left >= MILLI_PER_GPU, 49, used_gpu)  # 49: case 2 with one GPU
        else:
            values = np.full(len(k), max(50 - d.gpus, 33), dtype=np.int64)
        values = np.where(empty, np.maximum(33 - full, full), values)
        return Scores(values.astype(np.float64), gpu)
