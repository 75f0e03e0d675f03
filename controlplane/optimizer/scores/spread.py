"""Spread of one service's replicas: fewer replicas of the same service on a node is better.

score = 100 × (most replicas on any candidate − replicas here) / most, as Kubernetes'
selector spreading does; 100 everywhere for work without a service, so it changes nothing there.
"""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.scores.base import MAX_SCORE, ScoreInput, Scores


class ServiceSpread:
    name = "spread"

    def score(self, inp: ScoreInput) -> Scores:
        k = inp.nodes
        counts = inp.state.service_counts.get(inp.demand.service) if inp.demand.service else None
        if counts is None:
            return Scores(np.full(len(k), float(MAX_SCORE)))
        here = counts[k].astype(np.float64)
        most = here.max()
        if most <= 0:
            return Scores(np.full(len(k), float(MAX_SCORE)))
        return Scores(MAX_SCORE * (most - here) / most)
