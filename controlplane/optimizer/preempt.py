"""Preemption: the cheapest set of strictly lower-priority work whose eviction makes room.

Cost is GPU-seconds lost: GPUs held (a shared GPU counts its fraction) × seconds since placed.
Work placed less than `min_runtime_s` ago is not eligible, nor work placed or evicted earlier in
the same plan: so a workload placed by preemption never triggers more preemption, and victims
are not re-placed in this plan (the controller requeues them).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters import load_proof_filters, run_filters
from controlplane.optimizer.types import MILLI_PER_GPU

# Nodes with at most this many eligible victims get an exact search over all subsets (2^8 = 256);
# more than that, a greedy pick plus a reprieve pass, as Kubernetes' default preemption does.
EXACT_MAX_VICTIMS = 8


@dataclass(frozen=True, slots=True)
class Victim:
    key: str
    node: int
    gpus: tuple[int, ...]
    demand: Demand
    priority: int
    held_s: float  # seconds since it was placed

    @property
    def gpu_seconds(self) -> float:
        return self.demand.gpus * self.demand.milli / MILLI_PER_GPU * self.held_s


@dataclass(frozen=True, slots=True)
class Eviction:
    node: int
    victims: tuple[Victim, ...]
    gpu_ok: np.ndarray  # bool[G], GPUs of the node usable by the preemptor once they are gone
    nodes_considered: int

    @property
    def gpu_seconds(self) -> float:
        return sum(v.gpu_seconds for v in self.victims)


def find_eviction(
    state: CapacityArrays,
    demand: Demand,
    priority: int,
    victims: Sequence[Victim],
    gpu_mask: np.ndarray | None = None,
) -> Eviction | None:
    """`gpu_mask` (bool[N, G]): the only GPUs the preemptor may take (None: any)."""
    eligible: dict[int, list[Victim]] = {}
    for v in victims:
        if v.priority < priority:
            eligible.setdefault(v.node, []).append(v)
    if not eligible:
        return None
    static = run_filters(state, demand, load_proof_filters(), count=False).feasible
    accepted = state.accepted_gpus(demand)
    if gpu_mask is not None:
        accepted = accepted & gpu_mask
    best: tuple[tuple[float, int, int], Eviction] | None = None
    considered = 0
    for node, on_node in eligible.items():
        if not static[node]:
            continue
        considered += 1
        bound = best[0][0] if best else float("inf")
        found = _cheapest_on_node(state, demand, node, on_node, accepted[node], bound)
        if found is None:
            continue
        chosen, ok = found
        cost = sum(v.gpu_seconds for v in chosen)
        # Cheapest first, then fewest victims, then the node priority that breaks score ties.
        key = (cost, len(chosen), -int(state.tie_priority[node]))
        if best is None or key < best[0]:
            best = (key, Eviction(node, tuple(chosen), ok, 0))
    if best is None:
        return None
    e = best[1]
    return Eviction(e.node, e.victims, e.gpu_ok, considered)


def _fits(
    state: CapacityArrays, demand: Demand, node: int, freed: Sequence[Victim], accepted: np.ndarray
) -> np.ndarray | None:
    cpu = int(state.cpu_free[node]) + sum(v.demand.cpu_milli for v in freed)
    mem = int(state.mem_free[node]) + sum(v.demand.memory_mib for v in freed)
    if cpu < demand.cpu_milli or mem < demand.memory_mib:
        return None
    free = state.gpu_free[node].astype(np.int64)
    gmem = state.gpu_mem_free[node].copy()
    for v in freed:
        for g in v.gpus:
            free[g] += v.demand.milli
            gmem[g] += v.demand.gpu_memory_mib
    ok = accepted & (free >= demand.milli) & (gmem >= demand.gpu_memory_mib)
    return ok if np.count_nonzero(ok) >= demand.gpus else None


def _cheapest_on_node(
    state: CapacityArrays,
    demand: Demand,
    node: int,
    victims: list[Victim],
    accepted: np.ndarray,
    bound: float,
) -> tuple[list[Victim], np.ndarray] | None:
    if _fits(state, demand, node, victims, accepted) is None:
        return None  # even evicting every eligible victim here is not enough
    if len(victims) <= EXACT_MAX_VICTIMS:
        subsets = [
            s for r in range(1, len(victims) + 1) for s in itertools.combinations(victims, r)
        ]
        subsets.sort(key=lambda s: (sum(v.gpu_seconds for v in s), len(s)))
        for s in subsets:
            if sum(v.gpu_seconds for v in s) > bound:
                return None  # another node is already cheaper
            ok = _fits(state, demand, node, s, accepted)
            if ok is not None:
                return list(s), ok
        return None
    # Greedy: evict cheapest first until it fits, then reprieve the dearest that can stay.
    order = sorted(victims, key=lambda v: (v.gpu_seconds, v.priority))
    chosen: list[Victim] = []
    for v in order:
        chosen.append(v)
        if _fits(state, demand, node, chosen, accepted) is not None:
            break
    for v in sorted(chosen, key=lambda v: -v.gpu_seconds):
        rest = [c for c in chosen if c is not v]
        if _fits(state, demand, node, rest, accepted) is not None:
            chosen = rest
    ok = _fits(state, demand, node, chosen, accepted)
    return (chosen, ok) if ok is not None else None
