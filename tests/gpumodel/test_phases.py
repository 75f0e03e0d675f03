"""The phase-aware curves reproduce the published cap and clock figures they were fitted to
(/work/shared/data/README.md "Published figures on clocks and caps in LLM decode")."""

from __future__ import annotations

import math

import pytest

from gpumodel import perf
from gpumodel.models import get_model


def _power(name: str, phase: perf.Phase) -> perf.PhasePower:
    m = get_model(name)
    demand = perf.phase_demand_w(phase, m.power_limit_max_w, m.idle_power_w)
    return perf.PhasePower(demand, m.idle_power_w, m.curve_p0_w, m.curve_alpha)


def test_splitwise_70pct_cap_prefill_x130_decode_x100() -> None:
    cap = 0.7 * get_model("H100").power_limit_max_w
    prefill = perf.phase_speed("prefill", cap, 1.0, _power("H100", "prefill"))
    decode = perf.phase_speed("decode", cap, 1.0, _power("H100", "decode"))
    assert 1.0 / prefill == pytest.approx(1.30, abs=0.01)
    assert 1.0 / decode == pytest.approx(1.00, abs=1e-9)


@pytest.mark.parametrize("name", ["H100", "H200", "A100-80GB"])
def test_decode_not_slowed_until_cap_below_its_demand(name: str) -> None:
    power = _power(name, "decode")
    demand = power.demand_w
    assert perf.phase_speed("decode", demand, 1.0, power) == 1.0
    below = perf.phase_speed("decode", 0.8 * demand, 1.0, power)
    prefill_below = perf.phase_speed("prefill", 0.8 * demand, 1.0, _power(name, "prefill"))
    assert 0.0 < below < 1.0
    assert prefill_below < below  # compute-bound work loses more under the same cap


@pytest.mark.parametrize("name", ["H100", "H200", "A100-80GB"])
def test_clock_lock_saves_decode_energy_in_published_range(name: str) -> None:
    """Ma et al.: up to 32 % (H200); VoltanaLLM: up to 36.3 % (A100); U-shaped in frequency."""
    args = _power(name, "decode")
    energies = [
        perf.phase_energy_per_work("decode", math.inf, i / 100, args) for i in range(10, 101)
    ]
    best = min(energies)
    assert 0.27 <= 1.0 - best <= 0.38
    i_best = energies.index(best)
    assert 0 < i_best < len(energies) - 1  # U-shaped: the lowest clock is not the best
    assert energies[0] > best + 0.1 and energies[-1] == pytest.approx(1.0)


def test_voltana_clock_step_raises_decode_time_sublinearly() -> None:
    ratio = 1005 / 1410
    slowdown = perf.decode_time_factor(ratio)
    assert 1.0 < slowdown < 1.0 / ratio
    assert slowdown < 1.10  # "minimal throughput loss"


def test_clock_lock_lowers_decode_power_but_prefill_speed_follows_clock() -> None:
    decode = _power("H200", "decode")
    prefill = _power("H200", "prefill")
    assert perf.phase_power_w("decode", math.inf, 0.6, decode) < decode.demand_w
    assert perf.phase_speed("decode", math.inf, 0.6, decode) > 0.9
    assert perf.phase_speed("prefill", math.inf, 0.6, prefill) == pytest.approx(0.6)


def test_best_decode_clock_respects_the_slowdown_bound() -> None:
    power = _power("H100", "decode")
    demand, idle = power.demand_w, power.idle_w
    r = perf.best_decode_clock_ratio(demand, idle, max_slowdown=1.05)
    assert r < 1.0 and perf.decode_time_factor(r) <= 1.05
    assert perf.best_decode_clock_ratio(demand, idle, max_slowdown=1.0) == 1.0


def test_decode_cap_clock_is_inverse_of_power() -> None:
    power = _power("H100", "decode")
    demand, idle = power.demand_w, power.idle_w
    for r in (0.3, 0.5, 0.8):
        cap = perf.decode_power_w(r, demand, idle)
        assert perf.decode_clock_ratio_under_cap(cap, demand, idle) == pytest.approx(r, abs=1e-6)
