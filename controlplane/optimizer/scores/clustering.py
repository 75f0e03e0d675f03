"""GpuClustering (paper baseline): put work of one GPU shape together.

Shapes are "shared GPU" or "k whole GPUs". From the paper's simulator: a node that holds only
this shape scores 75–100, one that holds it among others 50–75, an idle node 25–50, a node with
other shapes only 0–25; within a band, the more GPU share in use, the higher.
CPU-only requests score 0 everywhere.
"""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.scores.base import ScoreInput, Scores, best_fit_gpu
from controlplane.optimizer.scores.bestfit import MAX_SPEC_GPU_MILLI


class GpuClustering:
    name = "clustering"

    def score(self, inp: ScoreInput) -> Scores:
        s, d, k = inp.state, inp.demand, inp.nodes
        tag = d.shape_tag
        if tag < 0:
            return Scores(np.zeros(len(k)))
        used = 25 * (MAX_SPEC_GPU_MILLI - s.gpu_free_total[k]) // MAX_SPEC_GPU_MILLI
        affinity = s.affinity[k]
        shapes = np.count_nonzero(affinity, axis=1)
        has = affinity[:, tag] > 0
        band = np.select([has & (shapes == 1), has, shapes == 0], [75, 50, 25], default=0)
        gpu = best_fit_gpu(s.gpu_free[k], inp.gpu_ok) if d.shared else None
        return Scores((used + band).astype(np.float64), gpu)
