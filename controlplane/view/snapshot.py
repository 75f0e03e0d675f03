"""Build the optimizer's immutable Snapshot from the controller's read model.

The one place where wire messages become optimizer types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.types import (
    MILLI_PER_GPU,
    Assignment,
    GpuView,
    NodeView,
    Request,
    Snapshot,
    WorkloadView,
)

if TYPE_CHECKING:
    from controlplane.etcd.cache import PrefixCache
    from controlplane.view.cluster import ClusterState
from sdk.pb.aiwo.v1 import types_pb2


def request_of(resources: types_pb2.Resources) -> Request:
    milli = resources.milli_gpu if resources.milli_gpu else MILLI_PER_GPU
    return Request(
        gpus=resources.gpus,
        milli_gpu=milli if resources.gpus else MILLI_PER_GPU,
        gpu_memory_mib=resources.gpu_memory_mib,
        gpu_models=frozenset(resources.gpu_models),
        cpu_milli=resources.cpu_milli,
        memory_mib=resources.memory_mib,
    )


def node_view_of(node: types_pb2.Node) -> NodeView:
    return NodeView(
        name=node.name,
        cpu_milli=node.info.cpu_milli,
        memory_mib=node.info.memory_mib,
        gpus=tuple(
            GpuView(
                index=gpu.index,
                model=gpu.model,
                memory_total_mib=gpu.memory_total_mib,
                nvlink_peers=tuple(gpu.nvlink_peers),
                healthy=gpu.index not in node.unhealthy_gpus,
            )
            for gpu in node.info.gpus
        ),
        ready=node.state == types_pb2.NODE_STATE_READY,
        cordoned=node.cordoned,
        labels=tuple(sorted(node.info.labels.items())),
    )


def workload_view_of(
    key: str, workload: types_pb2.Workload, placement: types_pb2.PlacementRecord | None
) -> WorkloadView:
    assignment = None
    if placement is not None:
        assignment = Assignment(
            node=placement.node,
            gpus=tuple(placement.gpus),
            milli_gpu=placement.milli_gpu,
            since=placement.placed_unix,
        )
    return WorkloadView(
        key=key,
        priority=workload.priority,
        request=request_of(workload.spec.resources),
        created=workload.created_unix,
        assignment=assignment,
        service=workload.spec.service,
        p99_latency_target_ms=workload.spec.slo.p99_latency_ms,
    )


# Phases whose workloads hold or want capacity.
ACTIVE_PHASES = frozenset(
    {
        types_pb2.WORKLOAD_PHASE_PENDING,
        types_pb2.WORKLOAD_PHASE_PLACED,
        types_pb2.WORKLOAD_PHASE_RUNNING,
        types_pb2.WORKLOAD_PHASE_UNSCHEDULABLE,
        types_pb2.WORKLOAD_PHASE_PREEMPTED,
    }
)


class NodeViews:
    """The optimizer's view of every node, kept current by the nodes cache's listener, so a
    pass (or a Register's "could this ever fit") does not convert 10,000 node records again:
    a heartbeat changes no record, and a change rebuilds one view. `views()` is the same
    tuple object until a node changes; `arrays(seed)` its capacity arrays, built once."""

    def __init__(self, nodes: PrefixCache[types_pb2.Node]) -> None:
        self._views = {name: node_view_of(node) for name, node in nodes.items()}
        self._sorted: tuple[NodeView, ...] | None = None
        self._arrays: dict[int, tuple[tuple[NodeView, ...], CapacityArrays]] = {}
        nodes.subscribe(self._on_change)

    def _on_change(self, name: str, node: types_pb2.Node | None) -> None:
        if node is None:
            self._views.pop(name, None)
        else:
            self._views[name] = node_view_of(node)
        self._sorted = None
        self._arrays.clear()

    def views(self) -> tuple[NodeView, ...]:
        if self._sorted is None:
            self._sorted = tuple(view for _, view in sorted(self._views.items()))
        return self._sorted

    def arrays(self, seed: int) -> tuple[tuple[NodeView, ...], CapacityArrays]:
        """The views with `CapacityArrays.of_nodes(views, seed=seed)` (the optimizer's
        NodeArrays), built once per change of any node."""
        kept = self._arrays.get(seed)
        views = self.views()
        if kept is None or kept[0] is not views:
            kept = self._arrays[seed] = (views, CapacityArrays.of_nodes(views, seed=seed))
        return kept


def has_pending(state: ClusterState) -> bool:
    """Whether any workload wants capacity and has none (cheaper than a snapshot)."""
    placements = state.placements
    return any(
        workload.phase in ACTIVE_PHASES and key not in placements
        for key, workload in state.workloads.items()
    )


def build_snapshot(state: ClusterState, nodes: tuple[NodeView, ...] | None = None) -> Snapshot:
    """`nodes`: the node views when the caller keeps them (NodeViews), else built here."""
    if nodes is None:
        nodes = tuple(node_view_of(node) for _, node in sorted(state.nodes.items()))
    workloads = []
    for key, workload in state.workloads.items():
        placement = state.placements.get(key)
        if placement is None and workload.phase not in ACTIVE_PHASES:
            continue  # finished work holds nothing and wants nothing
        workloads.append(workload_view_of(key, workload, placement))
    return Snapshot(nodes=nodes, workloads=tuple(workloads))
