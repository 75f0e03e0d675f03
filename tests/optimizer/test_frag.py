"""FGD's fragmentation measure, the typical mix, and the vectorised helpers behind them."""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.frag import FragModel
from controlplane.optimizer.gpu_pick import nvlink_pick
from controlplane.optimizer.scores.fgd import best_per_node, unique_gpu_options
from controlplane.optimizer.typical import TypicalPods
from tests.optimizer.builders import node


def share(milli: int, cpu: int = 0, gpus: int = 1) -> Demand:
    return Demand(cpu_milli=cpu, gpus=gpus, milli=milli)


def test_typical_pods_keep_the_most_frequent_shapes_covering_the_share() -> None:
    mix = [share(1000)] * 6 + [share(500)] * 3 + [Demand(cpu_milli=1000)]
    shapes, weights = TypicalPods.of(mix, coverage=0.9).shapes()
    assert [s[1] for s in shapes] == [1000, 500]
    assert np.allclose(weights, [6 / 9, 3 / 9])
    learned = TypicalPods(coverage=1.0)
    for d in mix:
        learned.observe(d)
    assert len(learned.shapes()[0]) == 3 and learned.generation == 10


def test_fragmentation_of_a_node_by_hand() -> None:
    state = CapacityArrays.of_nodes([node("n1").gpus(2).cpu(8000).build()])
    state.allocate(0, (1,), share(700, cpu=1000))  # GPUs free: [1000, 300]
    shapes, weights = TypicalPods.of([share(500)] * 3 + [share(1000, cpu=16_000)]).shapes()
    m = FragModel(shapes, weights)
    m.sync(state)
    # 500-share (weight 3/4): hosted, wastes the 300 GPU. 1000 whole with 16 cores (1/4):
    # not hosted (CPU), wastes all 1300 free.
    assert np.isclose(m.before(state, np.array([0]))[0], 0.75 * 300 + 0.25 * 1300)
    # The sums follow the state: fill the 300 GPU, and only the rows that changed are redone.
    state.allocate(0, (1,), share(300))
    m.sync(state)
    assert np.isclose(m.before(state, np.array([0]))[0], 0.25 * 1000)


def test_unique_gpu_options_one_per_free_value_lowest_index() -> None:
    free = np.array([[1000, 300, 1000, 300], [0, 500, 500, 1000]])
    ok = free >= 300
    pos, gpu, val = unique_gpu_options(free, ok)
    assert list(zip(pos.tolist(), gpu.tolist(), val.tolist(), strict=True)) == [
        (0, 1, 300),
        (0, 0, 1000),
        (1, 1, 500),
        (1, 3, 1000),
    ]


def test_best_per_node_prefers_value_then_lowest_gpu() -> None:
    best, gpu = best_per_node(
        np.array([0, 0, 1, 1]), np.array([3, 1, 2, 0]), np.array([50.0, 50.0, 40.0, 45.0]), 2
    )
    assert best.tolist() == [50.0, 45.0] and gpu.tolist() == [1, 0]


def test_nvlink_greedy_for_big_nodes() -> None:
    # 16 GPUs in two NVLink islands of 8: 8 GPUs come from one island.
    peers = [tuple(j for j in range(16) if j // 8 == i // 8 and j != i) for i in range(16)]
    chosen = nvlink_pick([j for j in range(16) if j != 0], peers, 8)
    assert chosen == tuple(range(8, 16))
