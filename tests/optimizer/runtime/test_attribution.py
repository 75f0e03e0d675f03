"""Energy attribution per workload on shared and whole GPUs."""

from __future__ import annotations

import pytest

from controlplane.optimizer.runtime import add_energy_j, attribute_power_w, gpu_power_split_w
from tests.optimizer.runtime.builders import gpu, job, ls


def test_a_whole_gpu_is_all_its_workloads() -> None:
    g = gpu("n1", 0, job("a", milli=1000), power=350.0, util=1.0)
    assert gpu_power_split_w(g) == pytest.approx({"ns/a": 350.0})


def test_shared_gpu_splits_idle_by_share_and_the_rest_by_what_each_adds() -> None:
    g = gpu("n1", 0, ls("s", milli=500), job("b", milli=500), power=310.0, util=1.0)
    split = gpu_power_split_w(g)
    assert sum(split.values()) == pytest.approx(310.0)
    # Idle 63 W half each; dynamic 247 W in proportion 157 : 337 (decode vs training power).
    assert split["ns/s"] == pytest.approx(31.5 + 247.0 * 157 / 494)
    assert split["ns/b"] == pytest.approx(31.5 + 247.0 * 337 / 494)


def test_unreserved_share_of_idle_power_is_nobodys() -> None:
    g = gpu("n1", 0, job("a", milli=250), power=63.0, util=0.0)
    assert gpu_power_split_w(g) == pytest.approx({"ns/a": 63.0 * 0.25})


def test_idle_gpu_attributes_nothing() -> None:
    assert gpu_power_split_w(gpu("n1", 0)) == {}


def test_multi_gpu_workload_sums_its_gpus_and_energy_accumulates() -> None:
    gpus = [gpu("n1", i, job("big", milli=1000), power=300.0, util=1.0) for i in range(2)]
    watts = attribute_power_w(gpus)
    assert watts == pytest.approx({"ns/big": 600.0})
    totals = add_energy_j({}, watts, 10.0)
    totals = add_energy_j(totals, watts, 5.0)
    assert totals == pytest.approx({"ns/big": 9000.0})
    assert add_energy_j(totals, watts, -3.0) == totals  # a clock stepped back adds nothing
