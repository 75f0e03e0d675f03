from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from gpumodel import perf

# Zeus NSDI'23 V100 median throughput by cap / max limit (gpu-models.md section 2 table).
ZEUS_V100 = {0.4: 0.57, 0.5: 0.73, 0.6: 0.86, 0.7: 0.91, 0.8: 0.95, 0.9: 0.98}


def test_fitted_curve_reproduces_zeus_v100_medians() -> None:
    # V100 PCIe in the traces: 250 W max; kept configs draw > 75 % of it uncapped.
    demand_w = 215.0
    errors = [
        perf.throughput_factor(f * 250, demand_w, 36.0, 0.43) - thr for f, thr in ZEUS_V100.items()
    ]
    rmse = math.sqrt(sum(e * e for e in errors) / len(errors))
    assert rmse < 0.05  # gpu-models.md reports RMSE 0.049 over all configurations
    assert max(abs(e) for e in errors) < 0.08


def test_curve_is_flat_above_demand_and_zero_at_p0() -> None:
    assert perf.throughput_factor(700, 380, 147, 0.45) == 1.0  # decode below the cap
    assert perf.throughput_factor(147, 700, 147, 0.45) == 0.0
    assert perf.throughput_factor(100, 700, 147, 0.45) == 0.0
    caps = np.linspace(150, 700, 50)
    thr = [perf.throughput_factor(c, 700, 147, 0.45) for c in caps]
    assert all(a <= b for a, b in itertools.pairwise(thr))  # monotone in the cap


def test_demand_below_p0_slows_in_proportion() -> None:
    assert perf.throughput_factor(20, 40, 50, 0.45) == pytest.approx(0.5)


def test_h100_prefill_slowdown_at_70pct_cap_is_near_splitwise() -> None:
    # Splitwise's capped DGX-H100 (70 %): prompt time x1.30 (gpu-models.md section 2, [E]).
    slowdown = 1 / perf.throughput_factor(0.7 * 700, 700, 147, 0.45)
    assert 1.15 < slowdown < 1.35


def test_cap_for_throughput_inverts_the_curve() -> None:
    for target in (0.5, 0.8, 0.95, 1.0):
        cap = perf.cap_for_throughput_w(target, 700, 147, 0.45)
        assert perf.throughput_factor(cap, 700, 147, 0.45) == pytest.approx(target)
    with pytest.raises(ValueError):
        perf.cap_for_throughput_w(0.0, 700, 147, 0.45)


def test_power_draw_is_linear_in_utilization_and_capped() -> None:
    assert perf.power_draw_w(0.0, 75, 700, 700) == 75
    assert perf.power_draw_w(0.5, 75, 700, 700) == pytest.approx(387.5)
    assert perf.power_draw_w(1.0, 75, 700, 400) == 400
    assert perf.power_draw_w(1.7, 75, 700, 700) == 700  # u clipped to 1


def test_mixed_demand_weights_each_workload_by_its_time() -> None:
    # A batch job at 50 % (700 W) and a decode service at 20 % (385 W) on an H100.
    got = perf.mixed_demand_power_w(75, [0.5, 0.2], [700, 385])
    assert got == pytest.approx(75 + 0.5 * 625 + 0.2 * 310)


def test_sm_time_shares_are_max_min_fair_when_oversubscribed() -> None:
    assert perf.sm_time_shares([0.3, 0.4]) == [0.3, 0.4]
    assert perf.sm_time_shares([0.2, 0.9, 0.9]) == pytest.approx([0.2, 0.4, 0.4])
    assert perf.sm_time_shares([1.0, 1.0]) == pytest.approx([0.5, 0.5])
    assert sum(perf.sm_time_shares([0.6, 0.7, 0.8])) == pytest.approx(1.0)


def test_timeslice_service_time_grows_with_neighbour_duty() -> None:
    assert perf.timeslice_service_time_ms(20, []) == 20  # alone: no switch cost
    assert perf.timeslice_service_time_ms(20, [0.5], switch_ms=1.0) == pytest.approx(31.0)
    assert perf.timeslice_service_time_ms(20, [0.5, 0.5], switch_ms=0.0) == pytest.approx(40.0)
    capped = perf.timeslice_service_time_ms(20, [0.5], switch_ms=0.0, throughput=0.8)
    assert capped == pytest.approx(37.5)
    assert perf.timeslice_service_time_ms(20, [], throughput=0.0) == math.inf


def test_clock_lock_matches_the_equivalent_cap() -> None:
    demand = perf.clock_locked_demand_power_w(700, 0.8, 147, 0.45)
    assert perf.throughput_factor(demand, 700, 147, 0.45) == pytest.approx(0.8)
    assert perf.clock_locked_demand_power_w(700, 1.0, 147, 0.45) == 700
    assert perf.clock_ratio(990, 1980) == 0.5


def test_temperature_relaxes_to_steady_state() -> None:
    thermal = perf.ThermalParams(ambient_c=30, rise_at_max_limit_c=45, time_constant_s=20)
    assert perf.steady_temperature_c(700, 700, thermal) == 75
    one_tau = perf.temperature_step_c(30, 700, 20, 700, thermal)
    assert one_tau == pytest.approx(75 - 45 * math.exp(-1))
    assert perf.temperature_step_c(30, 700, 1e6, 700, thermal) == pytest.approx(75)
    assert perf.temperature_step_c(40, 700, 0, 700, thermal) == 40
    # Two half steps equal one full step (exact solution, no integration error).
    half = perf.temperature_step_c(30, 700, 10, 700, thermal)
    assert perf.temperature_step_c(half, 700, 10, 700, thermal) == pytest.approx(one_tau)


def test_energy_integration() -> None:
    assert perf.integrate_energy_j([0, 1, 3], [100, 100, 200]) == pytest.approx(100 + 300)
    assert perf.integrate_energy_j([0], [100]) == 0.0
    assert perf.joules_to_kwh(3.6e6) == 1.0
    with pytest.raises(ValueError):
        perf.integrate_energy_j([0, 2, 1], [1, 1, 1])


def test_power_attribution_splits_idle_by_share_and_dynamic_by_weight() -> None:
    parts = perf.attribute_power_w(400, 100, [0.5, 0.25], [200, 100])
    assert parts == pytest.approx([50 + 200, 25 + 100])
    assert sum(parts) <= 400
    assert perf.attribute_power_w(100, 100, [0.5], [0]) == [50]
