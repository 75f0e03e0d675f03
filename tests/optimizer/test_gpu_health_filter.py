"""The gpu_healthy filter: unhealthy GPUs take no new work, the node's others still do."""

from __future__ import annotations

import numpy as np
import pytest

from controlplane.optimizer import OptimizerConfig, optimize
from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters.gpu_health import GpuHealthy
from controlplane.optimizer.types import Request
from tests.optimizer.builders import node, snapshot, workload

CONFIG = OptimizerConfig(policy="bestfit")


@pytest.mark.parametrize(
    ("unhealthy", "usable"),
    [
        ((), [True, True, True, True]),
        ((2,), [True, True, False, True]),
        ((0, 1, 2, 3), [False, False, False, False]),
    ],
)
def test_usable_is_the_healthy_gpus(unhealthy: tuple[int, ...], usable: list[bool]) -> None:
    state = CapacityArrays.of_nodes([node("n1").gpus(4).unhealthy(*unhealthy).build()])
    demand = Demand.of(Request(gpus=1))
    assert GpuHealthy().usable(state, demand).tolist() == [usable]


def test_absent_gpus_are_not_healthy_and_cpu_only_work_is_not_filtered() -> None:
    state = CapacityArrays.of_nodes([node("n1").gpus(1).build(), node("n2").gpus(2).build()])
    assert state.gpu_healthy is not None
    assert state.gpu_healthy.tolist() == [[True, False], [True, True]]
    assert not GpuHealthy().applies(Demand.of(Request(gpus=0)))


def test_empty_copy_keeps_health() -> None:
    state = CapacityArrays.of_nodes([node("n1").gpus(2).unhealthy(0).build()])
    copied = state.empty_copy().gpu_healthy
    assert copied is not None and state.gpu_healthy is not None
    assert np.array_equal(copied, state.gpu_healthy)


def test_placement_avoids_the_unhealthy_gpu() -> None:
    snap = snapshot([node("n1").gpus(2).unhealthy(0)], [workload("a/w").wants(gpus=1)])
    [p] = optimize(snap, 0.0, CONFIG).placements
    assert p.gpus == (1,)


def test_a_node_with_only_unhealthy_gpus_rejects_with_the_reason() -> None:
    snap = snapshot([node("n1").gpus(2).unhealthy(0, 1)], [workload("a/w").wants(gpus=1)])
    plan = optimize(snap, 0.0, CONFIG)
    assert not plan.placements
    [u] = plan.unschedulable
    assert u.rejections == (("GPU unhealthy", 1),)
