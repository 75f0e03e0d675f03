"""How many more replicas of one shape fit now: the autoscaler's `room`.

The same placement core as `optimize` (filters, the policy, the spread of one service's
replicas) places copies one after another on what is free until one fits nowhere. With
`free_below_priority`, the capacity held by placed work of lower priority counts as free:
what preemption or migration of that work could give (an upper bound: the minimum runtime
that protects young work is not applied here; `optimize` applies it when it preempts).
"""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.config import OptimizerConfig
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters import build_filters
from controlplane.optimizer.optimize import prepare
from controlplane.optimizer.place import decide
from controlplane.optimizer.types import Request, Snapshot


def room_for(
    snapshot: Snapshot,
    request: Request,
    service: str,
    limit: int,
    config: OptimizerConfig,
    free_below_priority: int | None = None,
) -> int:
    """Copies of `request` (a replica of `service`) that fit, at most `limit`."""
    if limit <= 0:
        return 0
    if free_below_priority is not None:
        snapshot = Snapshot(
            snapshot.nodes,
            tuple(
                w
                for w in snapshot.workloads
                if w.assignment is None or w.priority >= free_below_priority
            ),
        )
    state, policy, _ = prepare(snapshot, config)
    filters = build_filters()
    rng = np.random.default_rng(config.seed)
    demand = Demand.of(request, service)
    placed = 0
    while placed < limit:
        _, choice = decide(state, demand, policy, filters, rng, count=False)
        if choice is None:
            break
        state.allocate(choice.node, choice.gpus, demand)
        placed += 1
    return placed


def replica_room(
    snapshot: Snapshot,
    request: Request,
    service: str,
    headroom: int,
    unplaced: int,
    config: OptimizerConfig,
    priority: int,
) -> tuple[int, int]:
    """A service's (room, room_by_preemption) for the autoscaler: how many more replicas fit
    on free capacity, and how many more once work below `priority` is preempted; at most
    `headroom` (max_replicas less the active ones). Its `unplaced` (pending) replicas take
    their places first, so they count against both."""
    if headroom <= 0:
        return 0, 0
    free = room_for(snapshot, request, service, headroom + unplaced, config)
    room = max(0, free - unplaced)
    if not config.preemption or room >= headroom:
        return room, 0
    freed = room_for(
        snapshot, request, service, headroom + unplaced, config, free_below_priority=priority
    )
    return room, max(0, freed - unplaced - room)
