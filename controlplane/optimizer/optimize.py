"""optimize(snapshot, now, config) -> Plan: place pending work, preempt where it must."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.config import OptimizerConfig
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters import Filter, FilterResult, build_filters
from controlplane.optimizer.fit import never_fits
from controlplane.optimizer.gpu_pick import pick_gpus
from controlplane.optimizer.place import Choice, decide, summarize
from controlplane.optimizer.policy import Policy, instantiate
from controlplane.optimizer.preempt import Eviction, Victim, find_eviction
from controlplane.optimizer.types import (
    MILLI_PER_GPU,
    NodeView,
    Placement,
    Plan,
    Preemption,
    Snapshot,
    Unschedulable,
    WorkloadView,
)


def prepare(
    snapshot: Snapshot,
    config: OptimizerConfig,
    exclude: str | None = None,
    nodes: NodeArrays | None = None,
) -> tuple[CapacityArrays, Policy, list[str]]:
    """State with every placed workload's capacity taken, and the policy having seen the mix.

    `exclude` leaves one workload's own capacity free (used by explain for placed work).
    `nodes`: node views and their `CapacityArrays.of_nodes(views, seed=config.seed)`, which a
    caller that sees the same nodes pass after pass keeps; used when the views are the
    snapshot's, else the arrays are built here (the larger part of a pass on a large fleet).
    """
    state = base_of(snapshot, config, nodes).empty_copy()
    demands = [Demand.of(w.request, w.service) for w in snapshot.workloads]
    placed = [
        (w, d)
        for w, d in zip(snapshot.workloads, demands, strict=True)
        if w.assignment is not None and w.key != exclude
    ]
    unknown = state.apply(placed)
    policy = instantiate(config.policy_spec)
    # What has arrived is the best estimate of what will arrive: plugins that learn the
    # workload mix (FGD's typical pods) learn it from every workload the snapshot holds.
    policy.observe_many(demands)
    notes = [f"workload {k} is placed on an unknown node; its capacity is ignored" for k in unknown]
    return state, policy, notes


# Node views with their arrays, built once by `node_arrays` and reused while the nodes hold.
NodeArrays = tuple[tuple[NodeView, ...], CapacityArrays]


def node_arrays(views: tuple[NodeView, ...], config: OptimizerConfig) -> NodeArrays:
    return views, CapacityArrays.of_nodes(views, seed=config.seed)


def base_of(
    snapshot: Snapshot, config: OptimizerConfig, nodes: NodeArrays | None
) -> CapacityArrays:
    """The arrays of `nodes` when its views are the snapshot's (a tuple compare: identical
    elements compare by identity, so this is cheap), else arrays built from the snapshot."""
    if nodes is not None and nodes[0] == snapshot.nodes:
        return nodes[1]
    return CapacityArrays.of_nodes(snapshot.nodes, seed=config.seed)


def pending_order(workloads: tuple[WorkloadView, ...]) -> list[WorkloadView]:
    """Pending work in the order it is placed: priority desc, then created asc."""
    pending = [w for w in workloads if w.assignment is None]
    return sorted(pending, key=lambda w: (-w.priority, w.created, w.key))


def optimize(
    snapshot: Snapshot,
    now: float,
    config: OptimizerConfig,
    nodes: NodeArrays | None = None,
) -> Plan:
    """`nodes`: see `prepare`; the plan is the same with or without it."""
    state, policy, notes = prepare(snapshot, config, nodes=nodes)
    filters = build_filters()
    rng = np.random.default_rng(config.seed)
    victims: list[Victim] | None = None  # built on first need: most plans preempt nothing
    placements: list[Placement] = []
    unschedulable: list[Unschedulable] = []
    preemptions: list[Preemption] = []

    def evict(w: WorkloadView, demand: Demand, mask: np.ndarray | None, why: str) -> bool:
        """Preempt for `w` (on `mask`'s GPUs only, when given); False if nothing makes room."""
        nonlocal victims
        if victims is None:
            victims = _victims(snapshot, state, now, config)
        eviction = find_eviction(state, demand, w.priority, victims, mask)
        if eviction is None:
            return False
        placement, evicted = _preempt(state, demand, w, eviction, now, policy.name, why)
        placements.append(placement)
        preemptions.extend(evicted)
        gone = {v.key for v in eviction.victims}
        victims = [v for v in victims if v.key not in gone]
        return True

    for w in pending_order(snapshot.workloads):
        demand = Demand.of(w.request, w.service)
        fr, choice, where = None, None, ""
        if config.isolate_latency and demand.shared and demand.service:
            tiers = _own_gpu_tiers(state)
            fr, choice, where = _first_tier(tiers, state, demand, policy, filters, rng, config)
            # A GPU held by lower-priority work beats a latency neighbour: batch work can be
            # throttled or placed again, a neighbour serving its own SLO cannot.
            lone = state.gpu_latency == 0
            if choice is None and config.preemption and evict(w, demand, lone, _ISOLATE_WHY):
                continue
            if choice is None:
                tiers = _fewest_neighbour_tiers(state)
                fr, choice, where = _first_tier(tiers, state, demand, policy, filters, rng, config)
        if choice is None:
            fr, choice = decide(state, demand, policy, filters, rng, top=config.candidates)
        assert fr is not None
        if choice is not None:
            state.allocate(choice.node, choice.gpus, demand)
            placements.append(
                Placement(
                    workload=w.key,
                    node=state.names[choice.node],
                    gpus=choice.gpus,
                    milli_gpu=demand.milli,
                    score=choice.score,
                    reason=f"{policy.name}: best of {choice.feasible} feasible nodes "
                    f"(score {choice.score:.0f})" + (f" on {where}" if where else ""),
                    candidates=choice.candidates,
                )
            )
            continue
        if config.preemption and evict(w, demand, None, "fits nowhere free"):
            continue
        never = never_fits(state, demand, w.key)
        unschedulable.append(
            never or Unschedulable(w.key, summarize(state.size, fr), fr.rejections)
        )
    return Plan(tuple(placements), tuple(unschedulable), tuple(preemptions), tuple(notes))


def _own_gpu_tiers(state: CapacityArrays) -> Iterator[tuple[str, np.ndarray]]:
    """Where a replica of a service looks first, on free capacity: an idle GPU, then a GPU no
    other replica uses (a share next to batch work)."""
    present = state.gpu_present
    yield "an idle GPU", present & (state.gpu_free >= MILLI_PER_GPU)
    yield "a GPU no other replica uses", present & (state.gpu_latency == 0)


def _fewest_neighbour_tiers(state: CapacityArrays) -> Iterator[tuple[str, np.ndarray]]:
    """The last resort: a GPU shared with other replicas, the fewest of them (k = 1, 2, ...);
    the caller's unrestricted pass covers the most crowded GPUs."""
    for k in range(1, int(state.gpu_latency.max(initial=0))):
        yield (
            f"a GPU shared with {k} other replica(s), the fewest",
            state.gpu_present & (state.gpu_latency <= k),
        )


def _first_tier(
    tiers: Iterator[tuple[str, np.ndarray]],
    state: CapacityArrays,
    demand: Demand,
    policy: Policy,
    filters: Sequence[Filter],
    rng: np.random.Generator,
    config: OptimizerConfig,
) -> tuple[FilterResult | None, Choice | None, str]:
    """The policy's choice within the first tier (a GPU mask) that has one."""
    for where, mask in tiers:
        fr, choice = decide(state, demand, policy, filters, rng, config.candidates, True, mask)
        if choice is not None:
            return fr, choice, where
    return None, None, ""


def _victims(
    snapshot: Snapshot, state: CapacityArrays, now: float, config: OptimizerConfig
) -> list[Victim]:
    out = []
    for w in snapshot.workloads:
        a = w.assignment
        if a is None or a.node not in state.index:
            continue
        held = now - a.since
        if held < config.min_runtime_s:
            continue  # too young to be evicted: the minimum runtime protects it
        out.append(
            Victim(
                w.key,
                state.index[a.node],
                a.gpus,
                Demand.of(w.request, w.service),
                w.priority,
                max(0.0, held),
            )
        )
    return out


_ISOLATE_WHY = "no GPU free of other replicas"


def _preempt(
    state: CapacityArrays,
    demand: Demand,
    w: WorkloadView,
    e: Eviction,
    now: float,
    policy: str,
    why: str,
) -> tuple[Placement, list[Preemption]]:
    node_name = state.names[e.node]
    for v in e.victims:
        state.release(v.node, v.gpus, v.demand)
    gpus = pick_gpus(state, demand, e.node, e.gpu_ok)
    state.allocate(e.node, gpus, demand)
    total = e.gpu_seconds
    preemptions = [
        Preemption(
            victim=v.key,
            for_workload=w.key,
            gpu_seconds_lost=v.gpu_seconds,
            reason=(
                f"preempted on {node_name} for {w.key} (priority {w.priority} > "
                f"{v.priority}): {v.gpu_seconds:.0f} GPU-seconds lost "
                f"({v.demand.gpus * v.demand.milli / 1000:g} GPU × {v.held_s:.0f} s)"
            ),
        )
        for v in e.victims
    ]
    placement = Placement(
        workload=w.key,
        node=node_name,
        gpus=gpus,
        milli_gpu=demand.milli,
        score=0.0,
        reason=(
            f"{policy}: {why}; preempted {len(e.victims)} lower-priority "
            f"workload(s) on {node_name}, {total:.0f} GPU-seconds lost, the cheapest of "
            f"{e.nodes_considered} nodes with eligible work"
        ),
    )
    return placement, preemptions
