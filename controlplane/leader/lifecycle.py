"""A managed workload's phase from what its process did on the node.

The agent's supervisor says what an exit means (ProcessEvent.outcome); here that becomes the
workload's phase and message: SUCCEEDED or FAILED with the exit code or the signal that killed
it, RUNNING again after a restart. A workload that ends for good gives its capacity back (its
placement is released), so it is neither restarted by a reconnecting agent's assignment set
nor placed again by the optimizer: a launch that fails fails once, without a retry storm.
"""

from __future__ import annotations

from controlplane.leader.decisions import Batch, Decisions
from controlplane.leader.migration_types import exit_text
from controlplane.view.cluster import ClusterState
from sdk.pb.aiwo.v1 import node_pb2, types_pb2


async def on_process_event(
    state: ClusterState,
    decisions: Decisions,
    node: str,
    event: node_pb2.ProcessEvent,
    now: float,
) -> None:
    key = event.workload
    workload = state.workloads.get(key)
    placement = state.placements.get(key)
    if workload is None or placement is None or placement.node != node:
        return  # an old run's news (it moved, or was released): not this workload's state
    if decisions.store.epoch <= 0:
        return
    detail = f": {event.detail}" if event.detail else ""
    phase: int = workload.phase
    release = False
    if event.kind == "start_failed":
        phase, message, release = (
            types_pb2.WORKLOAD_PHASE_FAILED,
            f"start failed on {node}{detail}",
            True,
        )
    elif event.kind == "restarted":
        phase, message = types_pb2.WORKLOAD_PHASE_RUNNING, f"restarted on {node}{detail}"
    elif event.kind == "exited" and event.outcome == "succeeded":
        phase, message, release = (
            types_pb2.WORKLOAD_PHASE_SUCCEEDED,
            f"{exit_text(event)} on {node}",
            True,
        )
    elif event.kind == "exited" and event.outcome == "failed":
        phase, message, release = (
            types_pb2.WORKLOAD_PHASE_FAILED,
            f"{exit_text(event)} on {node}{detail}",
            True,
        )
    elif event.kind == "exited" and event.outcome == "restarting":
        message = f"{exit_text(event)} on {node}{detail}"
    else:
        return  # started, or stopped by the agent (the controller asked: it knows why)
    updated = types_pb2.Workload()
    updated.CopyFrom(workload)
    updated.phase = phase  # type: ignore[assignment]
    updated.message = message
    batch = Batch()
    if release:
        # Keep node and GPUs on the record: where it ran, for `aiwo logs` and people.
        decisions.stage_placement(batch, key, None)
        decisions.stage_command(
            batch, node, now, unassign_workload=types_pb2.UnassignWorkload(workload=key)
        )
    if updated != workload or release:
        decisions.stage_workload(batch, key, updated)
        await decisions.commit(batch)
    if release:
        kind = (
            "workload_succeeded"
            if phase == types_pb2.WORKLOAD_PHASE_SUCCEEDED
            else ("workload_failed")
        )
        decisions.events.emit(kind, f"workload/{key}", message, now, node=node)
