"""One placement decision: filter all nodes, score the feasible ones, take the best."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters import Filter, FilterResult, run_filters
from controlplane.optimizer.gpu_pick import pick_gpus
from controlplane.optimizer.policy import Policy
from controlplane.optimizer.scores import ScoreInput
from controlplane.optimizer.types import Candidate


@dataclass(frozen=True, slots=True)
class Choice:
    node: int
    gpus: tuple[int, ...]
    score: float
    feasible: int  # how many nodes passed the filters
    candidates: tuple[Candidate, ...] = ()  # best first, including the chosen node


def decide(
    state: CapacityArrays,
    demand: Demand,
    policy: Policy,
    filters: Sequence[Filter],
    rng: np.random.Generator,
    top: int = 0,
    count: bool = True,
    gpu_mask: np.ndarray | None = None,
) -> tuple[FilterResult, Choice | None]:
    """Filter, score and choose; `top` > 0 also returns that many ranked candidates.

    `gpu_mask` (bool[N, G]) narrows the GPUs the workload may take, after the filters (the
    placement core's latency tiers, optimize.py); the rejections stay the filters' own."""
    fr = run_filters(state, demand, filters, count=count)
    if gpu_mask is not None:
        ok = fr.gpu_ok & gpu_mask
        enough = np.count_nonzero(ok, axis=1) >= demand.gpus
        fr = FilterResult(fr.feasible & enough, ok, fr.rejections)
    nodes = np.flatnonzero(fr.feasible)
    if nodes.size == 0:
        return fr, None
    gpu_ok = fr.gpu_ok[nodes]
    scores = policy.score(ScoreInput(state, demand, nodes, gpu_ok, rng))
    values = scores.values
    prio = state.tie_priority[nodes]
    best = values.max()
    tied = np.flatnonzero(values == best)
    pos = int(tied[np.argmax(prio[tied])]) if tied.size > 1 else int(tied[0])

    def gpus_at(p: int) -> tuple[int, ...]:
        suggested = None if scores.gpu is None else int(scores.gpu[p])
        return pick_gpus(state, demand, int(nodes[p]), gpu_ok[p], suggested)

    candidates: tuple[Candidate, ...] = ()
    if top > 0:
        order = np.lexsort((-prio, -values))[:top]
        candidates = tuple(
            Candidate(state.names[int(nodes[p])], float(values[p]), gpus_at(int(p))) for p in order
        )
    choice = Choice(int(nodes[pos]), gpus_at(pos), float(values[pos]), int(nodes.size), candidates)
    return fr, choice


def summarize(total: int, fr: FilterResult) -> str:
    """ "3/1213 nodes fit: 811 insufficient GPU memory, 399 GPU model not accepted"."""
    text = f"{fr.count}/{total} nodes fit"
    if fr.rejections:
        text += ": " + ", ".join(f"{n} {reason}" for reason, n in fr.rejections)
    return text
