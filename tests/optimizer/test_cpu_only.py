"""A cluster whose nodes have no GPUs (NVML missing everywhere) still places CPU-only work."""

from __future__ import annotations

from controlplane.optimizer import OptimizerConfig, optimize
from controlplane.optimizer.types import NodeView, Request, Snapshot, WorkloadView


def test_cpu_only_cluster_places_cpu_only_work() -> None:
    # Found by tests/fuzz: the fragmentation model indexed an empty GPU-model table.
    snapshot = Snapshot(
        nodes=(NodeView("cpu-1", 8_000, 16_384, (), True, False),),
        workloads=(WorkloadView("default/w", 500, Request(0, 1000, 0, frozenset(), 1000, 0), 0),),
    )
    plan = optimize(snapshot, 0.0, OptimizerConfig())
    assert [p.node for p in plan.placements] == ["cpu-1"]
