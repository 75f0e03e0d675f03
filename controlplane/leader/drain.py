"""Draining a node: cordon it (no new work), then migrate every workload off it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from controlplane.leader.migration_admission import MigrationRefused
from sdk.pb.aiwo.v1 import migration_pb2, types_pb2

if TYPE_CHECKING:
    from controlplane.leader.migration import Migrations


async def drain(
    migrations: Migrations, node_name: str, reason: str = "", now: float | None = None
) -> tuple[types_pb2.Node, list[migration_pb2.Migration], dict[str, str]]:
    """Cordon the node, then migrate every workload off it. Returns the node, the
    migrations under way, and the workloads that cannot move (with why)."""
    now = time.time() if now is None else now
    state, decisions = migrations.state, migrations.decisions
    node = state.nodes.get(node_name)
    if node is None:
        raise MigrationRefused(f"node {node_name} not found", not_found=True)
    why = f"draining {node_name}" + (f": {reason}" if reason else "")
    if not node.cordoned:
        updated = types_pb2.Node()
        updated.CopyFrom(node)
        updated.cordoned = True
        updated.reason = why
        await decisions.commit_node(updated)
        decisions.events.emit("node_cordoned", f"node/{node_name}", why, now)
        node = updated
    moving: list[migration_pb2.Migration] = []
    skipped: dict[str, str] = {}
    for placement in sorted(state.node_workloads(node_name), key=lambda p: p.workload):
        current = migrations.active(placement.workload)
        if current is not None and current.source_node == node_name:
            moving.append(current)
            continue
        try:
            moving.append(await migrations.request(placement.workload, None, why, "drain", now))
        except MigrationRefused as exc:
            skipped[placement.workload] = exc.reason
    return node, moving, skipped
