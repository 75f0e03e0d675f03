"""Whether a request could ever be placed: on some node, empty and healthy."""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters import capacity_filters, run_filters
from controlplane.optimizer.place import summarize
from controlplane.optimizer.types import NodeView, Request, Unschedulable


def can_ever_fit(
    nodes: Sequence[NodeView], request: Request, workload: str = ""
) -> Unschedulable | None:
    """None if some node could host `request` once empty; otherwise why none ever could.

    Node conditions (not ready, cordoned) are ignored: they pass. With no nodes at all there is
    nothing to judge against yet, so that is not a "never" either.
    """
    if not nodes:
        return None
    return never_fits(CapacityArrays.of_nodes(nodes), Demand.of(request), workload)


def never_fits(state: CapacityArrays, demand: Demand, workload: str) -> Unschedulable | None:
    """Like `can_ever_fit`, on the nodes of `state` as if they were empty. No nodes: None
    (a cluster still coming up, or one whose nodes all left, is not a verdict on the work)."""
    if state.size == 0:
        return None
    empty = state.empty_copy()
    fr = run_filters(empty, demand, capacity_filters())
    if fr.count:
        return None
    reason = summarize(empty.size, fr).replace("nodes fit", "nodes could fit, even empty", 1)
    return Unschedulable(workload, reason, fr.rejections, never=True)
