"""Random: a feasible node uniformly at random, and a random usable GPU (paper baseline)."""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.scores.base import ScoreInput, Scores


class RandomScore:
    name = "random"

    def score(self, inp: ScoreInput) -> Scores:
        k = len(inp.nodes)
        # Distinct floats, so the highest is a uniform pick and node priority never decides.
        values = inp.rng.random(k) * 100.0
        gpu = None
        if inp.demand.shared:
            # A uniform pick among each node's usable GPUs: random keys, masked, argmax.
            keys = np.where(inp.gpu_ok, inp.rng.random(inp.gpu_ok.shape), -1.0)
            gpu = np.argmax(keys, axis=1)
        return Scores(values, gpu)
