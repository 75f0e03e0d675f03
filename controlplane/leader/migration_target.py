"""Where a migrating workload can go: the placement policy's answer, restricted.

The same optimizer core that places work chooses the target (one code path, as for `aiwo
explain`): `explain` gives a placed workload its own capacity back and ranks the nodes that
could host it. Restricting the snapshot's nodes answers both questions a migration asks:
"the best node other than the source" and "which GPUs on this node".
"""

from __future__ import annotations

from dataclasses import replace

from controlplane.optimizer import OptimizerConfig, explain
from controlplane.view.cluster import ClusterState
from controlplane.view.snapshot import build_snapshot


class NoTarget(Exception):
    """No node fits; the message is the policy's summary of why."""


def choose_target(
    state: ClusterState,
    config: OptimizerConfig,
    workload: str,
    *,
    only: str | None = None,
    exclude: str | None = None,
    allow_cordoned: bool = False,
) -> tuple[str, tuple[int, ...]]:
    """(node, GPU indices) for `workload`, on `only` when given, never on `exclude`;
    `allow_cordoned` for a rollback to a source that is being drained.

    Raises NoTarget with the reason (e.g. "0/1 nodes fit: 1 insufficient GPUs")."""
    snapshot = build_snapshot(state)
    # Workloads placed on nodes left out keep their capacity there; the optimizer ignores
    # capacity on unknown nodes, so narrowing the nodes is safe.
    nodes = tuple(
        replace(n, cordoned=False) if allow_cordoned else n
        for n in snapshot.nodes
        if (only is None or n.name == only) and (exclude is None or n.name != exclude)
    )
    if not nodes:
        raise NoTarget(f"no node {only}" if only else "no other node")
    try:
        result = explain(replace(snapshot, nodes=nodes), workload, replace(config, candidates=1))
    except KeyError:
        raise NoTarget(f"workload {workload} holds or wants no capacity") from None
    if not result.candidates:
        summary = result.summary
        # explain prefixes placed work with where it is now; that is not the reason.
        summary = summary.split("; now ", 1)[-1]
        raise NoTarget(summary)
    best = result.candidates[0]
    return best.node, tuple(best.gpus)
