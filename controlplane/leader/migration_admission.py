"""Whether a migration may start, and where a migrating workload goes.

Admission checks a request against the cluster as the leader sees it and builds the
REQUESTED record; target choice asks the placement policy (migration_target.choose_target)
and turns its refusal into a value the pure step (migration_step) can read.
"""

from __future__ import annotations

from controlplane.leader.migration_target import NoTarget, choose_target
from controlplane.leader.migration_types import REQUESTED, Choice, NoRoom, phase_name
from controlplane.optimizer import OptimizerConfig
from controlplane.view.cluster import ClusterState
from sdk.pb.aiwo.v1 import migration_pb2, types_pb2


class MigrationRefused(Exception):
    """A migration that cannot start; `not_found` tells a missing object from a bad state."""

    def __init__(self, reason: str, not_found: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.not_found = not_found


def admit(
    state: ClusterState,
    config: OptimizerConfig,
    key: str,
    active: migration_pb2.Migration | None,
    target: str | None,
    reason: str,
    requested_by: str,
    now: float,
) -> migration_pb2.Migration:
    """The REQUESTED record that moves `key` to `target` (None: the best other node).

    `active` is the migration of `key` in flight, if any. Raises MigrationRefused."""
    workload = state.workloads.get(key)
    if workload is None:
        raise MigrationRefused(f"workload {key} not found", not_found=True)
    placement = state.placements.get(key)
    if placement is None:
        raise MigrationRefused(f"workload {key} is not placed ({_workload_phase(workload)})")
    if active is not None:
        raise MigrationRefused(
            f"workload {key} is already migrating to {active.target_node} "
            f"({phase_name(active.phase)})"
        )
    if target:
        if state.nodes.get(target) is None:
            raise MigrationRefused(f"node {target} not found", not_found=True)
        if target == placement.node:
            raise MigrationRefused(f"workload {key} already runs on {target}")
    try:
        if target:
            node, gpus = choose_target(state, config, key, only=target)
        else:
            node, gpus = choose_target(state, config, key, exclude=placement.node)
    except NoTarget as exc:
        where = f"node {target} cannot" if target else "no other node can"
        raise MigrationRefused(f"{where} take {key}: {exc}") from None
    why = reason or "requested"
    return migration_pb2.Migration(
        workload=key,
        uid=workload.uid,
        source_node=placement.node,
        source_gpus=list(placement.gpus),
        target_node=node,
        target_gpus=list(gpus),
        milli_gpu=placement.milli_gpu,
        phase=REQUESTED,
        reason=why,
        managed=bool(workload.spec.launch.command),
        target_fixed=bool(target),
        requested_by=requested_by,
        requested_unix=now,
        updated_unix=now,
        history=[migration_pb2.MigrationStep(phase=REQUESTED, time_unix=now, detail=why)],
        placed_unix=placement.placed_unix,
    )


def retarget(state: ClusterState, config: OptimizerConfig, m: migration_pb2.Migration) -> Choice:
    """GPUs on the chosen target now; another node when the request did not fix it and
    the first choice filled up meanwhile."""
    try:
        return choose_target(state, config, m.workload, only=m.target_node)
    except NoTarget as exc:
        if m.target_fixed:
            return NoRoom(str(exc))
    try:
        return choose_target(state, config, m.workload, exclude=m.source_node)
    except NoTarget as exc:
        return NoRoom(str(exc))


def room_on_source(
    state: ClusterState, config: OptimizerConfig, m: migration_pb2.Migration
) -> Choice:
    """GPUs on the source for a rollback; a draining source is cordoned, which keeps new
    work off, not its own."""
    try:
        return choose_target(state, config, m.workload, only=m.source_node, allow_cordoned=True)
    except NoTarget as exc:
        return NoRoom(str(exc))


def _workload_phase(workload: types_pb2.Workload) -> str:
    return types_pb2.WorkloadPhase.Name(workload.phase).removeprefix("WORKLOAD_PHASE_").lower()
