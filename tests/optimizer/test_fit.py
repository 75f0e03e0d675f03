"""Fit: each filter's reason, milli-GPU sharing, GPU memory per GPU, can_ever_fit."""

from __future__ import annotations

import pytest

from controlplane.optimizer import OptimizerConfig, Request, can_ever_fit, optimize
from tests.optimizer.builders import node, snapshot, workload

CONFIG = OptimizerConfig(policy="bestfit")


@pytest.mark.parametrize(
    ("nodes", "wants", "reason"),
    [
        ([node("n1").gpus(2).not_ready()], dict(gpus=1), "node not ready"),
        ([node("n1").gpus(2).cordoned()], dict(gpus=1), "node cordoned"),
        ([node("n1").gpus(2)], dict(gpus=4), "too few GPUs"),
        (
            [node("n1").gpus(2, model="T4")],
            dict(gpus=1, models=("A100",)),
            "GPU model not accepted",
        ),
        ([node("n1").gpus(2).cpu(4000)], dict(gpus=1, cpu=8000), "insufficient CPU"),
        ([node("n1").gpus(2).mem(1024)], dict(gpus=1, mem=2048), "insufficient memory"),
        (
            [node("n1").gpus(1, memory_mib=16_000)],
            dict(gpus=1, milli=500, gpu_mem=20_000),
            "insufficient GPU memory",
        ),
    ],
)
def test_each_filter_names_its_reason(nodes, wants, reason) -> None:
    plan = optimize(snapshot(nodes, [workload("a/w").wants(**wants)]), 0.0, CONFIG)
    assert not plan.placements
    [u] = plan.unschedulable
    assert u.rejections == ((reason, 1),)
    assert u.reason.startswith("0/1 nodes")
    assert reason in u.reason


def test_free_share_is_a_reason_that_can_change() -> None:
    snap = snapshot(
        [node("n1").gpus(1)],
        [
            workload("a/old").wants(gpus=1, milli=700).on("n1", (0,)),
            workload("a/new").wants(gpus=1, milli=400),
        ],
    )
    [u] = optimize(snap, 0.0, CONFIG).unschedulable
    assert u.rejections == (("insufficient free GPU share", 1),)
    assert not u.never


def test_shared_requests_share_one_gpu() -> None:
    snap = snapshot(
        [node("n1").gpus(1)],
        [
            workload("a/x").wants(gpus=1, milli=500).created(1),
            workload("a/y").wants(gpus=1, milli=500).created(2),
            workload("a/z").wants(gpus=1, milli=100).created(3),
        ],
    )
    plan = optimize(snap, 0.0, CONFIG)
    assert [(p.workload, p.gpus, p.milli_gpu) for p in plan.placements] == [
        ("a/x", (0,), 500),
        ("a/y", (0,), 500),
    ]
    assert [u.workload for u in plan.unschedulable] == ["a/z"]


def test_gpu_memory_is_per_gpu_and_summed_over_sharers() -> None:
    snap = snapshot(
        [node("n1").gpus(2, memory_mib=16_000)],
        [
            workload("a/x").wants(gpus=1, milli=300, gpu_mem=10_000).created(1),
            workload("a/y").wants(gpus=1, milli=300, gpu_mem=10_000).created(2),
        ],
    )
    plan = optimize(snap, 0.0, CONFIG)
    # Both fit by share on GPU 0, but not by memory: the second goes to GPU 1.
    assert sorted(p.gpus for p in plan.placements) == [(0,), (1,)]


def test_whole_gpus_need_completely_free_gpus() -> None:
    snap = snapshot(
        [node("n1").gpus(2)],
        [
            workload("a/s").wants(gpus=1, milli=100).on("n1", (0,)),
            workload("a/w").wants(gpus=2),
        ],
    )
    [u] = optimize(snap, 0.0, CONFIG).unschedulable
    assert u.rejections == (("insufficient free GPU share", 1),)


def test_cpu_only_work_ignores_gpus() -> None:
    snap = snapshot([node("n1").gpus(0).cpu(8000)], [workload("a/c").wants(cpu=4000)])
    [p] = optimize(snap, 0.0, CONFIG).placements
    assert (p.node, p.gpus, p.milli_gpu) == ("n1", (), 0)


def test_rejections_are_counted_per_first_failing_filter() -> None:
    nodes = [node(f"t{i}").gpus(2, model="T4") for i in range(3)]
    nodes += [node(f"a{i}").gpus(2, model="A100").cpu(8000) for i in range(2)]
    busy = [workload(f"a/busy{i}").wants(cpu=6000).on(f"a{i}") for i in range(2)]
    snap = snapshot(nodes, [*busy, workload("a/w").wants(gpus=1, cpu=4000, models=("A100",))])
    [u] = optimize(snap, 0.0, CONFIG).unschedulable
    assert u.rejections == (("GPU model not accepted", 3), ("insufficient CPU", 2))
    assert u.reason == "0/5 nodes fit: 3 GPU model not accepted, 2 insufficient CPU"


def test_can_ever_fit() -> None:
    nodes = [node("n1").gpus(8).build(), node("n2").gpus(4, model="T4").build()]
    assert can_ever_fit(nodes, Request(gpus=8)) is None
    assert can_ever_fit(nodes, Request(gpus=4, gpu_models=frozenset({"T4"}))) is None
    never = can_ever_fit(nodes, Request(gpus=16), workload="a/big")
    assert never is not None and never.never and never.workload == "a/big"
    assert never.rejections == (("too few GPUs", 2),)
    assert "even empty" in never.reason
    odd = can_ever_fit(nodes, Request(gpus=8, gpu_models=frozenset({"T4"})))
    assert odd is not None and odd.rejections == (
        ("GPU model not accepted", 1),
        ("too few GPUs", 1),
    )
    # Conditions change; capacity does not: a cordoned node still counts.
    assert can_ever_fit([node("n1").gpus(8).cordoned().build()], Request(gpus=8)) is None
    assert can_ever_fit([], Request(gpus=8)) is None


def test_never_flag_in_plan() -> None:
    snap = snapshot([node("n1").gpus(2)], [workload("a/w").wants(gpus=3)])
    [u] = optimize(snap, 0.0, CONFIG).unschedulable
    assert u.never


def test_with_no_nodes_work_waits_and_is_not_never() -> None:
    # Register keeps such work pending ("the cluster may still grow"); the plan must agree.
    [u] = optimize(snapshot([], [workload("a/w").wants(gpus=1)]), 0.0, CONFIG).unschedulable
    assert not u.never and "0/0" in u.reason


def test_work_on_an_unknown_node_is_noted_and_ignored() -> None:
    snap = snapshot(
        [node("n1").gpus(1)],
        [workload("a/x").wants(gpus=1).on("gone", (0,)), workload("a/y").wants(gpus=1)],
    )
    plan = optimize(snap, 0.0, CONFIG)
    assert [p.workload for p in plan.placements] == ["a/y"]
    assert len(plan.notes) == 1 and "a/x" in plan.notes[0]


def test_can_ever_fit_by_gpu_memory() -> None:
    nodes = [node("n1").gpus(2, memory_mib=16_000).build()]
    assert can_ever_fit(nodes, Request(gpus=1, milli_gpu=500, gpu_memory_mib=16_000)) is None
    never = can_ever_fit(nodes, Request(gpus=1, milli_gpu=500, gpu_memory_mib=24_000))
    assert never is not None and never.rejections == (("insufficient GPU memory", 1),)
