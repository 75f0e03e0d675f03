"""One seed of the placement benchmark: place pods one by one, never remove, record allocation.

The placing itself is the product's: the optimizer's filters, policies and `decide`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.sequence import pod_order
from bench.trace import Pod
from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.filters import build_filters
from controlplane.optimizer.place import decide
from controlplane.optimizer.policy import build_policy
from controlplane.optimizer.scores import PluginContext
from controlplane.optimizer.types import NodeView
from controlplane.optimizer.typical import TypicalPods

ARRIVED_POINTS = (90, 100, 110, 120, 130)

# Baselines that, as in the paper, take the typical pods from the whole trace up front. aiwo's
# own policies learn them from arrivals instead, as the controller must.
TRACE_TYPICAL = frozenset({"fgd"})


@dataclass(frozen=True, slots=True)
class SeedResult:
    policy: str
    seed: int
    unallocated_pct: dict[int, float]  # arrived % -> unallocated GPU %
    pods: int
    failed: int


def run_seed(
    nodes: Sequence[NodeView],
    pods: Sequence[Pod],
    policy_name: str,
    seed: int,
    tune: float,
    points: Sequence[int] = ARRIVED_POINTS,
    plugin_args: Mapping[str, Mapping[str, Any]] | None = None,
) -> SeedResult:
    rng = np.random.default_rng(seed)
    state = CapacityArrays.of_nodes(nodes, tie_priority=np.zeros(len(nodes), dtype=np.int64))
    capacity = state.gpu_capacity_milli
    order = pod_order(pods, capacity, tune, rng)
    state.tie_priority[:] = rng.permutation(len(nodes))
    typical = TypicalPods.of(p.demand for p in pods) if policy_name in TRACE_TYPICAL else None
    policy = build_policy(policy_name, plugin_args, context=PluginContext(typical=typical))
    filters = build_filters()
    arrived = np.empty(len(order), dtype=np.int64)
    allocated = np.empty(len(order), dtype=np.int64)
    arrived_sum = allocated_sum = failed = 0
    for n, i in enumerate(order):
        d = pods[i].demand
        policy.observe(d)
        _, choice = decide(state, d, policy, filters, rng, count=False)
        arrived_sum += d.gpu_milli_total
        if choice is None:
            failed += 1
        else:
            state.allocate(choice.node, choice.gpus, d)
            allocated_sum += d.gpu_milli_total
        arrived[n] = arrived_sum
        allocated[n] = allocated_sum
    return SeedResult(
        policy_name, seed, unallocated_at(arrived, allocated, capacity, points), len(order), failed
    )


def unallocated_at(
    arrived: np.ndarray, allocated: np.ndarray, capacity: int, points: Sequence[int]
) -> dict[int, float]:
    """Per point x: 100 − mean allocated % over the pods tried while arrived % rounded to x.

    On a small trace one pod may jump over a whole percent; then the point takes the state
    after the last pod tried below it. NaN when the run never got that far.
    """
    arrived_pct = np.floor(100.0 * arrived / capacity + 0.5).astype(np.int64)
    allocated_pct = 100.0 * allocated / capacity
    out = {}
    for x in points:
        hit = arrived_pct == x
        if hit.any():
            out[x] = float(100.0 - allocated_pct[hit].mean())
            continue
        below = np.flatnonzero(arrived_pct < x)
        reached = bool((arrived_pct > x).any())
        out[x] = float(100.0 - allocated_pct[below[-1]]) if reached and below.size else float("nan")
    return out
