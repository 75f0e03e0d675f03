"""The placement core's latency tiers (OptimizerConfig.isolate_latency, docs/placement.md): where a
replica of a service that shares a GPU goes, and when it preempts batch work for it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from controlplane.optimizer import OptimizerConfig, optimize
from controlplane.optimizer.optimize import prepare
from tests.optimizer.builders import WorkloadBuilder, node, snapshot, workload

NOW = 10_000.0
NEW = "inf/chat-r2"  # the pending replica every case places


def batch(key: str, gpu: int, milli: int = 500, age_s: float = 5000.0) -> WorkloadBuilder:
    return (
        workload(f"train/{key}")
        .wants(gpus=1, milli=milli)
        .priority(100)
        .on("n", (gpu,), since=NOW - age_s)
    )


def replica(key: str, gpu: int, milli: int = 500) -> WorkloadBuilder:
    return (
        workload(f"inf/{key}")
        .wants(gpus=1, milli=milli)
        .priority(800)
        .service(f"inf/{key.split('-')[0]}")
        .on("n", (gpu,), since=NOW - 5000.0)
    )


def pending(milli: int = 500) -> WorkloadBuilder:
    return workload(NEW).wants(gpus=1, milli=milli).priority(800).service("inf/chat")


@dataclass(frozen=True)
class Case:
    gpus: int
    placed: tuple[WorkloadBuilder, ...]
    milli: int  # the new replica's share
    gpu: int  # where it must land
    victims: tuple[str, ...] = ()  # what it must preempt, nothing else


CASES = {
    # GPU 0 has half a GPU free next to a training job; GPU 1 is idle: the idle GPU, although
    # packing would fill GPU 0 and keep GPU 1 whole.
    "idle GPU over a batch GPU": Case(2, (batch("a", 0),), 500, 1),
    # Free halves next to another service's replica (GPU 0) and next to batch work (GPU 1).
    "a GPU with only batch over one with a replica": Case(
        2, (replica("search-r1", 0), batch("a", 1)), 500, 1
    ),
    # A whole GPU of batch work on GPU 0, a free half next to a replica on GPU 1: the batch
    # job is preempted, although a share is free (docs/placement.md, "Latency tiers", says
    # why: the guard can relieve a replica from batch work, not from another replica).
    "preempt batch work before sharing with a replica": Case(
        2, (batch("whole", 0, milli=1000), replica("search-r1", 1)), 500, 0, ("train/whole",)
    ),
    # The same, but the job started 30 s ago (min_runtime_s 60): it is no victim, so the share
    # next to the replica.
    "no preemption of work inside its minimum runtime": Case(
        2, (batch("whole", 0, milli=1000, age_s=30.0), replica("search-r1", 1)), 500, 1
    ),
    # Nothing free: the batch job preempted is on the GPU no replica uses (GPU 0, the younger
    # of its two jobs, the fewest GPU-seconds lost), not the one next to the replica on GPU 1
    # although that one is younger still.
    "preempt on a GPU free of replicas when nothing is free": Case(
        2,
        (
            batch("old", 0),
            batch("young", 0, age_s=2000.0),
            replica("search-r1", 1),
            batch("youngest", 1, age_s=1000.0),
        ),
        500,
        0,
        ("train/young",),
    ),
    # Every GPU has replicas: the fewest (GPU 1, one), not the best fit (GPU 0, three), and the
    # batch job next to a replica on GPU 2 is not preempted for it.
    "last resort: the GPU with the fewest replicas": Case(
        3,
        (
            replica("a-r1", 0, 250),
            replica("b-r1", 0, 250),
            replica("c-r1", 0, 250),
            replica("d-r1", 1),
            replica("e-r1", 2),
            batch("a", 2),
        ),
        250,
        1,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_a_replica_goes_by_the_latency_tiers(case: Case) -> None:
    snap = snapshot([node("n").gpus(case.gpus)], [*case.placed, pending(case.milli)])
    plan = optimize(snap, NOW, OptimizerConfig())
    [p] = plan.placements
    assert (p.workload, p.node, p.gpus) == (NEW, "n", (case.gpu,))
    assert tuple(v.victim for v in plan.preemptions) == case.victims
    assert not plan.unschedulable


def test_the_tiers_change_where_a_replica_goes() -> None:
    """Without them the default policy packs: the first two cases land elsewhere."""
    off = OptimizerConfig(isolate_latency=False)
    for name in ("idle GPU over a batch GPU", "last resort: the GPU with the fewest replicas"):
        case = CASES[name]
        snap = snapshot([node("n").gpus(case.gpus)], [*case.placed, pending(case.milli)])
        [p] = optimize(snap, NOW, off).placements
        assert p.gpus != (case.gpu,), name


@pytest.mark.parametrize(
    "new",
    [
        # training work, a share: placed by the policy alone
        workload("train/new").wants(gpus=1, milli=500).priority(100),
        # a share of inference work that is no service's replica
        workload("inf/once").wants(gpus=1, milli=500).priority(800),
        # a replica that takes a whole GPU shares nothing: the tiers do not apply
        workload("inf/big-r1").wants(gpus=1, milli=1000).priority(800).service("inf/big"),
    ],
    ids=["batch", "not a replica", "whole-GPU replica"],
)
def test_other_work_is_placed_as_without_the_tiers(new: WorkloadBuilder) -> None:
    placed = (replica("search-r1", 0), batch("a", 1), batch("whole", 2, milli=1000))
    snap = snapshot([node("n").gpus(4)], [*placed, new])
    on, off = (optimize(snap, NOW, OptimizerConfig(isolate_latency=x)) for x in (True, False))
    assert on == off
    assert len(on.placements) == 1


def test_capacity_counts_replicas_per_gpu() -> None:
    snap = snapshot(
        [node("n").gpus(3)],
        [replica("a-r1", 0, 250), replica("b-r1", 0, 250), replica("c-r1", 1), batch("x", 2)],
    )
    state, _, _ = prepare(snap, OptimizerConfig())
    assert state.gpu_latency.tolist() == [[2, 1, 0]]
