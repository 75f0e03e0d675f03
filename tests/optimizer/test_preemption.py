"""Preemption: the cheapest set of strictly lower-priority work, minimum runtime, no cascades."""

from __future__ import annotations

from controlplane.optimizer import OptimizerConfig, optimize
from tests.optimizer.builders import node, snapshot, workload

NOW = 10_000.0
CONFIG = OptimizerConfig(policy="bestfit", min_runtime_s=60.0)


def test_evicts_the_work_that_loses_fewest_gpu_seconds() -> None:
    snap = snapshot(
        [node("n1").gpus(1), node("n2").gpus(1)],
        [
            workload("a/old").wants(gpus=1).priority(1).on("n1", (0,), since=NOW - 5000),
            workload("a/young").wants(gpus=1).priority(1).on("n2", (0,), since=NOW - 100),
            workload("a/vip").wants(gpus=1).priority(10),
        ],
    )
    plan = optimize(snap, NOW, CONFIG)
    [pre] = plan.preemptions
    assert (pre.victim, pre.for_workload) == ("a/young", "a/vip")
    assert pre.gpu_seconds_lost == 100.0
    assert "100 GPU-seconds" in pre.reason and "priority 10 > 1" in pre.reason
    [p] = plan.placements
    assert (p.workload, p.node, p.gpus) == ("a/vip", "n2", (0,))
    assert "preempted 1" in p.reason
    assert not plan.unschedulable


def test_minimum_runtime_protects_recent_work() -> None:
    snap = snapshot(
        [node("n1").gpus(1), node("n2").gpus(1)],
        [
            workload("a/old").wants(gpus=1).priority(1).on("n1", (0,), since=NOW - 5000),
            workload("a/new").wants(gpus=1).priority(1).on("n2", (0,), since=NOW - 10),
            workload("a/vip").wants(gpus=1).priority(10),
        ],
    )
    [pre] = optimize(snap, NOW, CONFIG).preemptions
    assert pre.victim == "a/old"


def test_only_strictly_lower_priority_work_is_evicted() -> None:
    snap = snapshot(
        [node("n1").gpus(1)],
        [
            workload("a/peer").wants(gpus=1).priority(10).on("n1", (0,), since=0.0),
            workload("a/vip").wants(gpus=1).priority(10),
        ],
    )
    plan = optimize(snap, NOW, CONFIG)
    assert not plan.preemptions and not plan.placements
    assert [u.workload for u in plan.unschedulable] == ["a/vip"]


def test_cheapest_set_may_be_one_big_victim_instead_of_two_small() -> None:
    snap = snapshot(
        [node("n1").gpus(2), node("n2").gpus(2)],
        [
            workload("a/x").wants(gpus=1).priority(1).on("n1", (0,), since=NOW - 1000),
            workload("a/y").wants(gpus=1).priority(1).on("n1", (1,), since=NOW - 1000),
            workload("a/big").wants(gpus=2).priority(1).on("n2", (0, 1), since=NOW - 600),
            workload("a/vip").wants(gpus=2).priority(10),
        ],
    )
    plan = optimize(snap, NOW, CONFIG)
    assert [p.victim for p in plan.preemptions] == ["a/big"]
    assert plan.placements[0].node == "n2"


def test_takes_the_subset_that_suffices_and_counts_shares_by_fraction() -> None:
    # n1: a half-GPU share held 1000 s (500 GPU-s) and a whole GPU held 400 s (400 GPU-s).
    snap = snapshot(
        [node("n1").gpus(2)],
        [
            workload("a/share")
            .wants(gpus=1, milli=500)
            .priority(1)
            .on("n1", (0,), since=NOW - 1000),
            workload("a/whole").wants(gpus=1).priority(1).on("n1", (1,), since=NOW - 400),
            workload("a/vip").wants(gpus=1, milli=600).priority(5),
        ],
    )
    plan = optimize(snap, NOW, CONFIG)
    [pre] = plan.preemptions
    assert pre.victim == "a/whole" and pre.gpu_seconds_lost == 400.0


def test_no_cascade_and_victims_are_not_replaced() -> None:
    snap = snapshot(
        [node("n1").gpus(1)],
        [
            workload("a/low").wants(gpus=1).priority(1).on("n1", (0,), since=0.0),
            workload("a/mid").wants(gpus=1).priority(5).created(1),
            workload("a/top").wants(gpus=1).priority(9).created(2),
        ],
    )
    plan = optimize(snap, NOW, CONFIG)
    # top goes first and evicts low; mid may not evict top (placed by preemption in this plan)
    assert [(p.victim, p.for_workload) for p in plan.preemptions] == [("a/low", "a/top")]
    assert [p.workload for p in plan.placements] == ["a/top"]
    assert [u.workload for u in plan.unschedulable] == ["a/mid"]


def test_preemption_can_be_switched_off() -> None:
    snap = snapshot(
        [node("n1").gpus(1)],
        [
            workload("a/low").wants(gpus=1).priority(1).on("n1", (0,), since=0.0),
            workload("a/vip").wants(gpus=1).priority(9),
        ],
    )
    plan = optimize(snap, NOW, OptimizerConfig(preemption=False))
    assert not plan.preemptions and plan.unschedulable


def test_no_preemption_where_eviction_cannot_help() -> None:
    snap = snapshot(
        [node("n1").gpus(1)],
        [
            workload("a/low").wants(gpus=1).priority(1).on("n1", (0,), since=0.0),
            workload("a/vip").wants(gpus=2).priority(9),
        ],
    )
    plan = optimize(snap, NOW, CONFIG)
    assert not plan.preemptions
    [u] = plan.unschedulable
    assert u.never


def test_many_victims_on_a_node_use_the_greedy_search() -> None:
    # 10 quarter-GPU shares on one GPU, of different ages; a whole GPU needs them all gone.
    placed = [
        workload(f"a/s{i}")
        .wants(gpus=1, milli=100)
        .priority(1)
        .on("n1", (0,), since=NOW - 100 * (i + 1))
        for i in range(10)
    ]
    snap = snapshot([node("n1").gpus(1)], [*placed, workload("a/vip").wants(gpus=1).priority(9)])
    plan = optimize(snap, NOW, CONFIG)
    assert len(plan.preemptions) == 10 and plan.placements[0].workload == "a/vip"
    # Half a GPU only needs the five cheapest (youngest) to go.
    snap = snapshot(
        [node("n1").gpus(1)], [*placed, workload("a/vip").wants(gpus=1, milli=500).priority(9)]
    )
    victims = {p.victim for p in optimize(snap, NOW, CONFIG).preemptions}
    assert victims == {f"a/s{i}" for i in range(5)}
