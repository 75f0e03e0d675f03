"""DotProd (Tetris, SIGCOMM'14): the node whose free resources align least with the request.

The paper's configuration ("merge" dimensions, "max" normalisation): node vector (free CPU,
total free GPU milli), pod vector (CPU, GPU milli), each divided by 128 cores / 8 GPUs;
score = 100 × (1 − dot / 2), truncated. A shared request takes the best-fit GPU.
"""

from __future__ import annotations

from controlplane.optimizer.scores.base import ScoreInput, Scores, best_fit_gpu, truncate
from controlplane.optimizer.scores.bestfit import MAX_SPEC_CPU_MILLI, MAX_SPEC_GPU_MILLI


class DotProd:
    name = "dotprod"

    def score(self, inp: ScoreInput) -> Scores:
        s, d, k = inp.state, inp.demand, inp.nodes
        dot = (s.cpu_free[k] / MAX_SPEC_CPU_MILLI) * (d.cpu_milli / MAX_SPEC_CPU_MILLI) + (
            s.gpu_free_total[k] / MAX_SPEC_GPU_MILLI
        ) * (d.gpu_milli_total / MAX_SPEC_GPU_MILLI)
        values = truncate(100.0 * (1.0 - dot / 2.0))
        gpu = best_fit_gpu(s.gpu_free[k], inp.gpu_ok) if d.shared else None
        return Scores(values, gpu)
