"""A pass given the node arrays it kept (the reconciler's incremental state) plans exactly as
one that builds them; arrays of other nodes are not used."""

from bench.scale.placement import snapshot_of
from controlplane.optimizer import OptimizerConfig, optimize
from controlplane.optimizer.optimize import node_arrays, prepare
from controlplane.optimizer.types import Request, Snapshot, WorkloadView


def _pending(snapshot: Snapshot, count: int) -> Snapshot:
    pending = tuple(
        WorkloadView(f"t/p-{i}", 0, Request(gpus=1 + i % 2, milli_gpu=1000), 1e9 + i)
        for i in range(count)
    )
    return Snapshot(snapshot.nodes, (*snapshot.workloads, *pending))


def test_kept_node_arrays_give_the_same_plan_and_stay_unchanged() -> None:
    config = OptimizerConfig()
    snapshot = _pending(snapshot_of(40, 8, 300), 12)
    kept = node_arrays(snapshot.nodes, config)
    free_before = kept[1].gpu_free.copy()
    assert optimize(snapshot, 2e9, config, kept) == optimize(snapshot, 2e9, config)
    assert optimize(snapshot, 2e9, config, kept) == optimize(snapshot, 2e9, config)
    # The kept arrays are a base: a pass allocates on a copy.
    assert (kept[1].gpu_free == free_before).all()


def test_arrays_of_other_nodes_are_rebuilt_not_used() -> None:
    config = OptimizerConfig()
    snapshot = _pending(snapshot_of(10, 4, 0), 3)
    stale = node_arrays(snapshot_of(12, 4, 0).nodes, config)
    state, _, _ = prepare(snapshot, config, nodes=stale)
    assert len(state.names) == 10
    assert optimize(snapshot, 2e9, config, stale) == optimize(snapshot, 2e9, config)
