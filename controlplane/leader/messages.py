"""The commands that put a workload on a node, built in one place.

Placement (decisions), migration and an agent's reconnect (rpc/node.py's assignment set) all
tell an agent the same two things about a placed workload: its GPUs and SLO (AssignWorkload)
and, for a managed workload, how to launch it (StartWorkload). Building them here keeps the
three in step when a field is added.
"""

from __future__ import annotations

from sdk.pb.aiwo.v1 import types_pb2


def assign_workload(
    workload: types_pb2.Workload, placement: types_pb2.PlacementRecord
) -> types_pb2.AssignWorkload:
    """What the agent enforces for a workload placed on it: GPUs, share, priority, SLO."""
    return types_pb2.AssignWorkload(
        workload=placement.workload,
        gpus=list(placement.gpus),
        milli_gpu=placement.milli_gpu,
        priority=workload.priority,
        p99_latency_target_ms=workload.spec.slo.p99_latency_ms,
    )


def start_workload(
    workload: types_pb2.Workload, placement: types_pb2.PlacementRecord, checkpoint_dir: str = ""
) -> types_pb2.StartWorkload:
    """Launch a managed workload on its placement's GPUs (from `checkpoint_dir` when set)."""
    return types_pb2.StartWorkload(
        workload=placement.workload,
        launch=workload.spec.launch,
        gpus=list(placement.gpus),
        uid=workload.uid,
        checkpoint_dir=checkpoint_dir,
    )
