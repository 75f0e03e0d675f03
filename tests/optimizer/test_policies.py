"""Each policy's choice on small cases, NVLink-aware GPU choice, and service spread."""

from __future__ import annotations

import pytest

from controlplane.optimizer import POLICY_NAMES, OptimizerConfig, optimize
from tests.optimizer.builders import node, snapshot, workload


def place(policy: str, nodes, placed, pending):
    snap = snapshot(nodes, [*placed, pending])
    plan = optimize(snap, 0.0, OptimizerConfig(policy=policy))
    [p] = plan.placements
    return p


def test_every_policy_places_a_workload_that_fits() -> None:
    for policy in POLICY_NAMES:
        p = place(
            policy,
            [node("n1").gpus(2), node("n2").gpus(2)],
            [],
            workload("a/w").wants(gpus=1, milli=300, cpu=1000),
        )
        assert p.node in ("n1", "n2") and len(p.gpus) == 1, policy
        assert p.reason.startswith(policy), policy
        assert p.candidates and p.candidates[0].node == p.node


# On n1 GPU 0 has 500 free; n2 is empty; n3 runs whole-GPU work (so the learned mix has
# some). A 500 share fills GPU 0 exactly instead of breaking a fresh GPU.
@pytest.mark.parametrize("policy", ["bestfit", "packing", "fgd", "default"])
def test_share_fills_the_partly_used_gpu(policy: str) -> None:
    p = place(
        policy,
        [node("n1").gpus(2), node("n2").gpus(2), node("n3").gpus(2)],
        [
            workload("a/old").wants(gpus=1, milli=500).on("n1", (0,)),
            workload("a/w0").wants(gpus=1).on("n3", (0,)),
            workload("a/w1").wants(gpus=1).on("n3", (1,)),
        ],
        workload("a/new").wants(gpus=1, milli=500),
    )
    assert (p.node, p.gpus) == ("n1", (0,))


def test_bestfit_takes_the_gpu_with_least_free_share_that_fits() -> None:
    p = place(
        "bestfit",
        [node("n1").gpus(3)],
        [
            workload("a/x").wants(gpus=1, milli=200).on("n1", (0,)),
            workload("a/y").wants(gpus=1, milli=600).on("n1", (2,)),
        ],
        workload("a/new").wants(gpus=1, milli=300),
    )
    assert p.gpus == (2,)  # 400 free beats 800 and 1000


def test_clustering_puts_a_shape_with_its_own_kind() -> None:
    p = place(
        "clustering",
        [node("n1").gpus(8), node("n2").gpus(8)],
        [
            workload("a/two").wants(gpus=2).on("n1", (0, 1)),
            workload("a/share").wants(gpus=1, milli=500).on("n2", (0,)),
        ],
        workload("a/new").wants(gpus=2),
    )
    assert p.node == "n1" and p.gpus == (2, 3)


def test_packing_prefers_a_used_node_over_an_empty_one() -> None:
    p = place(
        "packing",
        [node("n1").gpus(4), node("n2").gpus(4)],
        [workload("a/x").wants(gpus=1).on("n2", (0,))],
        workload("a/new").wants(gpus=1),
    )
    assert (p.node, p.gpus) == ("n2", (1,))


def test_dotprod_prefers_the_node_whose_free_resources_align_least() -> None:
    # A GPU-heavy request: the node with fewer free GPUs has the smaller dot product.
    p = place(
        "dotprod", [node("n1").gpus(8), node("n2").gpus(2)], [], workload("a/new").wants(gpus=1)
    )
    assert p.node == "n2"


def test_random_is_deterministic_for_a_seed() -> None:
    nodes = [node(f"n{i}").gpus(1) for i in range(20)]
    snap = snapshot(nodes, [workload("a/w").wants(gpus=1)])
    a = optimize(snap, 0.0, OptimizerConfig(policy="random", seed=1)).placements[0].node
    b = optimize(snap, 0.0, OptimizerConfig(policy="random", seed=1)).placements[0].node
    picks = {
        optimize(snap, 0.0, OptimizerConfig(policy="random", seed=s)).placements[0].node
        for s in range(10)
    }
    assert a == b and len(picks) > 1


def test_fgd_keeps_whole_gpus_free_for_whole_gpu_work() -> None:
    # The learned mix is mostly whole GPUs: a small share should not break a fresh GPU
    # when a GPU that is already shared can take it.
    nodes = [node("n1").gpus(2), node("n2").gpus(2)]
    placed = [workload(f"a/w{i}").wants(gpus=1).on("n2", (i,)) for i in range(1)]
    placed.append(workload("a/s").wants(gpus=1, milli=300).on("n1", (0,)))
    p = place("fgd", nodes, placed, workload("a/new").wants(gpus=1, milli=200))
    assert (p.node, p.gpus) == ("n1", (0,))


def test_multi_gpu_work_takes_an_nvlink_pair() -> None:
    links = {0: (2,), 2: (0,), 1: (3,), 3: (1,)}
    p = place("bestfit", [node("n1").gpus(4, nvlink=links)], [], workload("a/new").wants(gpus=2))
    assert p.gpus == (0, 2)
    p = place(
        "bestfit",
        [node("n1").gpus(4, nvlink=links)],
        [workload("a/x").wants(gpus=1).on("n1", (0,))],
        workload("a/new").wants(gpus=2),
    )
    assert p.gpus == (1, 3)


def test_without_topology_whole_gpus_are_the_lowest_free() -> None:
    p = place(
        "bestfit",
        [node("n1").gpus(4)],
        [workload("a/x").wants(gpus=1).on("n1", (1,))],
        workload("a/new").wants(gpus=2),
    )
    assert p.gpus == (0, 2)


def test_default_spreads_replicas_of_one_service() -> None:
    nodes = [node("n1").gpus(4), node("n2").gpus(4)]
    placed = [workload("a/r0").wants(gpus=1).service("llm").on("n1", (0,))]
    p = place("default", nodes, placed, workload("a/r1").wants(gpus=1).service("llm"))
    assert p.node == "n2"
    # Without a service the spread term is neutral: default chooses as aiwo alone does.
    for placed in (
        [workload("a/r0").wants(gpus=1).on("n1", (0,))],
        [workload("a/r0").wants(gpus=1).on("n2", (0,))],
    ):
        pending = workload("a/r1").wants(gpus=1)
        assert (
            place("default", nodes, placed, pending).node
            == place("aiwo", nodes, placed, pending).node
        )


def test_order_is_priority_then_creation() -> None:
    snap = snapshot(
        [node("n1").gpus(1)],
        [
            workload("a/late-high").wants(gpus=1).priority(10).created(5),
            workload("a/early-low").wants(gpus=1).priority(1).created(1),
            workload("a/early-high").wants(gpus=1).priority(10).created(2),
        ],
    )
    plan = optimize(snap, 0.0, OptimizerConfig(preemption=False))
    assert [p.workload for p in plan.placements] == ["a/early-high"]
    assert [u.workload for u in plan.unschedulable] == ["a/late-high", "a/early-low"]
