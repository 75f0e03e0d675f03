"""Which GPUs of the chosen node a workload takes.

Whole GPUs: the lowest-indexed usable ones (the paper's simulator does the same), unless the node
reports its NVLink topology, in which case the set with the most NVLink pairs inside it wins, so
multi-GPU work talks over NVLink instead of PCIe. A shared request takes the GPU its policy chose,
or else the usable GPU with the least free share (best fit).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand

# Above this many subsets the exhaustive search gives way to a greedy one (16 GPUs choose 8 is
# 12,870; real nodes have 8, where the largest case is 70).
MAX_SUBSETS = 5_000


def pick_gpus(
    state: CapacityArrays,
    demand: Demand,
    node: int,
    ok_row: np.ndarray,
    suggested: int | None = None,
) -> tuple[int, ...]:
    if demand.gpus == 0:
        return ()
    usable = [int(j) for j in np.flatnonzero(ok_row)]
    if demand.shared:
        if suggested is not None:
            return (int(suggested),)
        free = state.gpu_free[node]
        return (min(usable, key=lambda j: (int(free[j]), j)),)
    links = state.nvlink[node]
    if links is not None and demand.gpus > 1:
        return nvlink_pick(usable, links, demand.gpus)
    return tuple(usable[: demand.gpus])


def nvlink_pick(usable: Sequence[int], peers: Sequence[Sequence[int]], k: int) -> tuple[int, ...]:
    """The k GPUs among `usable` with the most NVLink pairs between them; lowest indices on ties."""

    def pairs(subset: Sequence[int]) -> int:
        chosen = set(subset)
        return sum(1 for a in subset for b in peers[a] if b in chosen and a < b) if subset else 0

    if math.comb(len(usable), k) <= MAX_SUBSETS:
        best = max(
            itertools.combinations(sorted(usable), k), key=lambda s: (pairs(s), [-j for j in s])
        )
        return tuple(best)
    # Greedy: start from each GPU, add the one with most links into the set so far.
    options = []
    for start in usable:
        chosen = [start]
        while len(chosen) < k:
            rest = [j for j in usable if j not in chosen]
            chosen.append(max(rest, key=lambda j: (sum(p in chosen for p in peers[j]), -j)))
        options.append(tuple(sorted(chosen)))
    return max(options, key=lambda s: (pairs(s), [-j for j in s]))
