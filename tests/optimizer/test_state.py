"""CapacityArrays built from node views: one row per node, GPUs in their listed order."""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from tests.optimizer.builders import node


def test_nodes_of_mixed_gpu_counts_and_models() -> None:
    linked = {1: (2,), 2: (1,)}
    mixed = node("mixed").gpus(1, "H100", 81_920).gpus(2, "A100", 40_960, linked).build()
    state = CapacityArrays.of_nodes(
        [node("cpu").build(), mixed, node("three").gpus(3, "A100", 40_960).build()]
    )
    assert state.names == ("cpu", "mixed", "three")
    assert state.models == ("H100", "A100")  # ids in order of first appearance
    assert state.gpu_present.tolist() == [
        [False, False, False],
        [True, True, True],
        [True, True, True],
    ]
    assert state.gpu_model.tolist() == [[-1, -1, -1], [0, 1, 1], [1, 1, 1]]
    assert state.gpu_mem_total.tolist() == [[0, 0, 0], [81_920, 40_960, 40_960], [40_960] * 3]
    assert state.gpu_count.tolist() == [0, 3, 3] and state.full_free.tolist() == [0, 3, 3]
    assert state.node_model.tolist() == [-1, 0, 1]
    assert state.nvlink == (None, ((), (2,), (1,)), None)
    assert np.array_equal(state.gpu_free, np.where(state.gpu_present, 1000, 0))


def test_no_nodes_and_no_gpus_anywhere() -> None:
    empty = CapacityArrays.of_nodes([])
    assert empty.size == 0 and empty.gpu_present.shape == (0, 1)
    cpu_only = CapacityArrays.of_nodes([node("a").build(), node("b").build()])
    assert cpu_only.gpu_present.shape == (2, 1) and not cpu_only.gpu_present.any()
    assert cpu_only.gpu_capacity_milli == 0
