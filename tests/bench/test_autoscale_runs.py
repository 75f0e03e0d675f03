"""Whole runs on minutes of demand: the policies behave, and every run's numbers add up."""

from __future__ import annotations

import pytest

from bench.autoscale.fluid import Targets
from bench.autoscale.policies import Hpa, Kpa, Oracle, Static
from bench.autoscale.pool import Decision, Pool
from bench.autoscale.run import Scenario, simulate, size_static
from gpumodel.serving import H100_8B
from tests.bench.autoscale_helpers import synthetic

TARGETS = Targets(ttft_ms=2000.0, tpot_ms=50.0)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    # quiet, a burst four times as busy, quiet again: 25 minutes
    demand = synthetic([(600, 20.0), (300, 80.0), (600, 20.0)])
    return Scenario(demand, H100_8B, TARGETS, cold_start_s=60.0, max_replicas=32)


def _check_sums(m: dict[str, float]) -> None:
    assert m["requests"] == m["requests_served"] + m["requests_failed"]
    assert 0.0 <= m["slo_attainment_pct"] <= 100.0
    assert m["gpu_hours"] > 0 and m["energy_kwh"] > 0
    assert m["pool_energy_kwh"] >= m["energy_kwh"]
    assert m["energy_per_request_j"] == pytest.approx(
        m["energy_kwh"] * 3.6e6 / m["requests_served"], rel=1e-2
    )


def test_static_is_sized_for_the_peak_and_meets_the_slo(scenario: Scenario) -> None:
    sizing = size_static(scenario)
    assert sizing.static_replicas >= 2
    r = simulate(scenario, Static(sizing), 0).metrics
    _check_sums(r)
    assert r["slo_attainment_pct"] >= 99.9
    assert r["scale_events"] == 0 and r["cold_starts"] == 0
    assert r["max_replicas"] == sizing.static_replicas
    assert r["gpu_hours"] == pytest.approx(sizing.static_replicas * 1500 / 3600, rel=1e-3)


def test_oracle_uses_no_more_gpu_hours_than_static(scenario: Scenario) -> None:
    sizing = size_static(scenario)
    static = simulate(scenario, Static(sizing), 0).metrics
    oracle = simulate(scenario, Oracle(sizing), 0).metrics
    _check_sums(oracle)
    assert oracle["gpu_hours"] < static["gpu_hours"]
    assert oracle["slo_attainment_pct"] >= 99.9
    assert oracle["cold_starts"] == 0 and oracle["scale_events"] >= 2  # down, up, down


@pytest.mark.parametrize("policy", [Hpa, Kpa])
def test_reactive_baselines_follow_the_burst(scenario: Scenario, policy: type) -> None:
    sizing = size_static(scenario)
    r = simulate(scenario, policy(sizing), 0)
    _check_sums(r.metrics)
    assert r.metrics["cold_starts"] > 0  # they grew for the burst, paying the load time
    quiet = r.replicas_series[5:10].mean()
    burst = r.replicas_series[12:15].mean()
    assert burst > quiet


def test_a_removed_replica_drains_before_its_gpu_is_free() -> None:
    pool = Pool(initial_ready=4, cold_start_s=60.0)
    pool.apply(Decision(2, remove=("r3",)), now_s=100.0, drain_s=8.0)
    assert [r.name for r in pool.ready] == ["r1", "r2"]
    assert sorted(r.name for r in pool.draining) == ["r3", "r4"]  # the named one first
    assert pool.current == 2 and pool.held == 4  # draining GPUs are still held
    pool.advance(107.0)
    assert pool.held == 4
    pool.advance(108.0)
    assert pool.held == 2
    pool.apply(Decision(5), now_s=110.0, drain_s=8.0)
    assert pool.current == 5 and len(pool.ready) == 2 and pool.cold_starts == 3
    pool.apply(Decision(3), now_s=120.0, drain_s=8.0)  # cancels loads first: no drain
    assert len(pool.starting) == 1 and not pool.draining
    pool.advance(170.0)
    assert len(pool.ready) == 3


def test_scale_in_drains_in_a_run(scenario: Scenario) -> None:
    """After the burst HPA scales in; the drained replicas leave no request failed."""
    sizing = size_static(scenario)
    r = simulate(scenario, Hpa(sizing), 0)
    assert r.replicas_series[-1] < r.replicas_series[14]
    assert r.metrics["requests_failed"] == 0
