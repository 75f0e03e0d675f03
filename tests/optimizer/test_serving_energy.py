"""The replicas' energy setting: the lowest energy per request within the SLO, with hysteresis."""

from __future__ import annotations

import itertools
import math

import pytest

from controlplane.optimizer.serving_energy import (
    EnergyConfig,
    EnergyMemory,
    EnergyTargets,
    ReplicaLoad,
    ServingEnergy,
)
from gpumodel.serving import DEFAULT_SETTING, H100_8B, H200_8B, ReplicaSetting

TARGETS = EnergyTargets(ttft_ms=2000.0, tpot_ms=50.0)
CHOOSER = ServingEnergy(H100_8B, EnergyConfig(hold_s=0.0))


def load(rps: float, prompt: float = 160.0, p99: float = 1000.0, decode: float = 25.0,
         **kw: float) -> ReplicaLoad:  # fmt: skip
    return ReplicaLoad(rps, prompt, p99, decode, **kw)  # type: ignore[arg-type]


def choose_once(chooser: ServingEnergy, at: ReplicaLoad, targets: EnergyTargets = TARGETS):  # type: ignore[no-untyped-def]
    memory = EnergyMemory()
    return chooser.choose(at, targets, memory, 0.0), memory


# (per-replica load, lowest and highest clock ratio acceptable as the choice)
@pytest.mark.parametrize(
    ("rps", "lo", "hi"),
    [(5.0, 0.5, 0.5), (20.0, 0.5, 0.6), (30.0, 0.6, 0.8), (40.0, 0.85, 1.0), (45.0, 1.0, 1.0)],
)
def test_light_load_runs_slow_clocks_and_heavy_load_full_clocks(rps, lo, hi):  # type: ignore[no-untyped-def]
    choice, _ = choose_once(CHOOSER, load(rps))
    assert lo <= choice.setting.sm_clock_ratio <= hi
    p = choice.predicted
    assert p is not None
    assert p.ttft_p99_ms <= 0.5 * 2000 and p.tpot_ms <= 0.5 * 50
    base = CHOOSER.predict(DEFAULT_SETTING, load(rps))
    assert p.energy_per_request_j <= base.energy_per_request_j


def test_predictions_trade_speed_for_power() -> None:
    preds = [CHOOSER.predict(ReplicaSetting(r / 10), load(30.0)) for r in range(10, 4, -1)]
    for a, b in itertools.pairwise(preds):
        assert b.prefill_utilization > a.prefill_utilization
        assert b.ttft_p99_ms > a.ttft_p99_ms and b.tpot_ms > a.tpot_ms
        assert b.power_w < a.power_w
        assert b.energy_per_request_j < a.energy_per_request_j


def test_overload_is_unbounded_and_falls_back_to_default_clocks() -> None:
    p = CHOOSER.predict(DEFAULT_SETTING, load(200.0))
    assert math.isinf(p.ttft_p99_ms)
    choice, memory = choose_once(CHOOSER, load(200.0))
    assert choice.setting == DEFAULT_SETTING and memory.changes == 0


def test_the_reason_carries_the_numbers() -> None:
    choice, memory = choose_once(CHOOSER, load(20.0))
    assert choice.changed and memory.changes == 1
    assert choice.reason.startswith("default -> clock 0.")
    for part in ("20.0 req/s per replica", "prefill", "TTFT p99", "<= 1000 ms", "TPOT",
                 "<= 25.0 ms", "J per request against", "J at default"):  # fmt: skip
        assert part in choice.reason


def test_a_saving_move_waits_out_the_hold_and_a_needed_raise_does_not() -> None:
    chooser = ServingEnergy(H100_8B, EnergyConfig(hold_s=60.0))
    memory = EnergyMemory()
    for now in (0.0, 30.0, 59.0):
        c = chooser.choose(load(20.0), TARGETS, memory, now)
        assert not c.changed and c.setting == DEFAULT_SETTING
        assert "would save" in c.reason
    c = chooser.choose(load(20.0), TARGETS, memory, 60.0)
    assert c.changed and c.setting.sm_clock_ratio < 0.7
    # Load triples: the slow clock no longer fits, so the move up is at once.
    c = chooser.choose(load(60.0), TARGETS, memory, 61.0)
    assert c.changed and c.setting == DEFAULT_SETTING and "no longer fits" in c.reason


def test_steady_noisy_load_does_not_flap() -> None:
    chooser = ServingEnergy(H100_8B, EnergyConfig(hold_s=60.0))
    memory = EnergyMemory()
    seen = []
    for i in range(600):  # ten minutes of +-5 % noise around one load
        rps = 38.0 * (1.05 if i % 2 else 0.95)
        seen.append(chooser.choose(load(rps), TARGETS, memory, float(i)).setting)
    changes = sum(1 for a, b in itertools.pairwise(seen) if a != b)
    assert changes <= 1 and memory.changes <= 1


def test_a_measured_breach_restores_default_clocks_at_once() -> None:
    memory = EnergyMemory()
    CHOOSER.choose(load(20.0), TARGETS, memory, 0.0)
    assert memory.setting != DEFAULT_SETTING
    c = CHOOSER.choose(load(20.0, observed_ttft_p99_ms=1500.0), TARGETS, memory, 1.0)
    assert c.changed and c.setting == DEFAULT_SETTING and "measured TTFT p99 1500 ms" in c.reason
    c = CHOOSER.choose(load(20.0, observed_tpot_ms=40.0), TARGETS, memory, 2.0)
    assert not c.changed and c.setting == DEFAULT_SETTING and "measured TPOT" in c.reason


def test_the_peak_load_bounds_the_clock_and_the_mean_sets_the_energy() -> None:
    calm, _ = choose_once(CHOOSER, load(20.0))
    bursty, _ = choose_once(CHOOSER, load(20.0, peak_arrival_rps=45.0))
    assert bursty.setting.sm_clock_ratio > calm.setting.sm_clock_ratio
    assert "(peak 45.0)" in bursty.reason
    assert bursty.predicted is not None
    assert bursty.predicted.energy_per_request_j == pytest.approx(
        CHOOSER.predict(bursty.setting, load(20.0)).energy_per_request_j
    )


def test_no_load_returns_to_default_clocks() -> None:
    memory = EnergyMemory(setting=ReplicaSetting(0.7))
    c = CHOOSER.choose(load(0.0), TARGETS, memory, 0.0)
    assert c.changed and c.setting == DEFAULT_SETTING and "no load" in c.reason
    c = CHOOSER.choose(load(0.0), TARGETS, memory, 1.0)
    assert not c.changed and c.setting == DEFAULT_SETTING


def test_targets_may_be_partial_and_other_models_work() -> None:
    chooser = ServingEnergy(H200_8B, EnergyConfig(hold_s=0.0))
    c, _ = choose_once(chooser, load(20.0), EnergyTargets(ttft_ms=None, tpot_ms=50.0))
    assert c.setting.sm_clock_ratio < 1.0 and "TTFT" not in c.reason
    # A tight TTFT target keeps full clocks even at light load.
    c, _ = choose_once(chooser, load(5.0, p99=8000.0), EnergyTargets(ttft_ms=1500.0, tpot_ms=None))
    assert c.setting == DEFAULT_SETTING


@pytest.mark.parametrize(
    ("field", "value"),
    [("headroom", 0.0), ("headroom", 1.5), ("max_prefill_utilization", float("nan")),
     ("down_band", -1.0), ("min_saving", 2.0), ("burst_factor", 0.5), ("hold_s", -1.0),
     ("candidates", ())],
)  # fmt: skip
def test_bad_config_names_the_field(field, value):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=field):
        EnergyConfig(**{field: value})


def test_the_clock_never_outgrows_the_autoscalers_concurrency() -> None:
    """A slower clock keeps requests longer: past the concurrency the autoscaler sizes for,
    it would add replicas whose idle power costs more than the clock saves."""
    free, _ = choose_once(CHOOSER, load(20.0))
    default_in_flight = CHOOSER.predict(DEFAULT_SETTING, load(20.0)).in_flight
    assert free.predicted is not None and free.predicted.in_flight > 1.5 * default_in_flight
    bound = 1.5 * default_in_flight
    held, _ = choose_once(CHOOSER, load(20.0, in_flight_limit=bound))
    assert free.setting.sm_clock_ratio < held.setting.sm_clock_ratio < 1.0
    assert held.predicted is not None and held.predicted.in_flight <= bound
    # Already past the limit at default clocks: no slower clock at all.
    none, _ = choose_once(CHOOSER, load(20.0, in_flight_limit=0.5 * default_in_flight))
    assert none.setting == DEFAULT_SETTING


def test_the_predicted_power_is_the_replica_models() -> None:
    for r in (1.0, 0.75, 0.5):
        s = ReplicaSetting(r)
        m = H100_8B.at(s)
        for rps in (2.0, 20.0, 40.0):
            p = CHOOSER.predict(s, load(rps))
            f = rps * 160.0 / m.prefill_tokens_per_s
            expected = float(m.power_w(f, (1 - f) * min(1.0, p.batch), p.batch))
            assert p.power_w == pytest.approx(expected, rel=1e-9)


def test_the_clock_keeps_the_burst_headroom_the_autoscaler_learned() -> None:
    """At 20 req/s a replica the autoscaler thinks carries 25 may slow only to be as busy as
    a default replica at 25; one it thinks carries 60 may slow much more."""
    tight, _ = choose_once(CHOOSER, load(20.0, learned_rps=25.0))
    loose, _ = choose_once(CHOOSER, load(20.0, learned_rps=60.0))
    assert tight.setting.sm_clock_ratio > loose.setting.sm_clock_ratio
    assert tight.predicted is not None
    bound = CHOOSER.predict(DEFAULT_SETTING, load(25.0)).prefill_utilization
    assert tight.predicted.prefill_utilization <= bound
    at_limit, _ = choose_once(CHOOSER, load(25.0, learned_rps=25.0))
    assert at_limit.setting == DEFAULT_SETTING
