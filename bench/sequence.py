"""The paper's workload for one seed: every trace pod once, shuffled, then random extra draws.

One random stream per seed drives, in this order, the shuffle, the extra draws, the node
priority that breaks score ties, and then the random policy's picks, so every policy sees the
same pods in the same order for a seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.trace import Pod


def pod_order(
    pods: Sequence[Pod], capacity_milli: int, tune: float, rng: np.random.Generator
) -> np.ndarray:
    """Indices into `pods`: all of them (sorted by name, shuffled), then draws with replacement
    until the next one would push the total GPU request past `tune` × capacity."""
    by_name = sorted(range(len(pods)), key=lambda i: pods[i].name)
    shuffled = [by_name[i] for i in rng.permutation(len(pods))]
    request = np.array([p.gpu_milli for p in pods], dtype=np.int64)
    total = int(request.sum())
    limit = tune * capacity_milli
    extra: list[int] = []
    while True:
        j = int(rng.integers(len(pods)))
        if total + request[j] > limit:
            break
        total += int(request[j])
        extra.append(j)
    return np.array(shuffled + extra, dtype=np.int64)
