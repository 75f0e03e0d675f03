"""BestFit: the node left with the least free CPU and GPU after placing (paper baseline).

score = 100 × (1 − [0.5 × (free CPU − request) / 128 cores + 0.5 × (free GPU − request) / 8 GPUs]),
truncated; a shared request takes the GPU with the least free share that still fits.
The 128 cores and 8 GPUs are the simulator's normalisers (MaxSpecCpu, MaxSpecGpu).
"""

from __future__ import annotations

from controlplane.optimizer.scores.base import ScoreInput, Scores, best_fit_gpu, truncate

MAX_SPEC_CPU_MILLI = 128_000
MAX_SPEC_GPU_MILLI = 8_000


class BestFit:
    name = "bestfit"

    def score(self, inp: ScoreInput) -> Scores:
        s, d, k = inp.state, inp.demand, inp.nodes
        cpu_left = (s.cpu_free[k] - d.cpu_milli) / MAX_SPEC_CPU_MILLI
        gpu_left = (s.gpu_free_total[k] - d.gpu_milli_total) / MAX_SPEC_GPU_MILLI
        values = truncate(100.0 * (1.0 - (0.5 * cpu_left + 0.5 * gpu_left)))
        gpu = best_fit_gpu(s.gpu_free[k], inp.gpu_ok) if d.shared else None
        return Scores(values, gpu)
