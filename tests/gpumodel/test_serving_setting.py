"""A replica at an SM clock lock or power cap: the published curves, and defaults unchanged."""

from __future__ import annotations

import dataclasses

import pytest

from gpumodel import perf
from gpumodel.serving import (
    DEFAULT_SETTING,
    H100_8B,
    H200_8B,
    LOWEST_CLOCK_RATIO,
    PRESETS,
    ReplicaSetting,
    prefill_slowdown,
)


@pytest.mark.parametrize("model", list(PRESETS.values()), ids=list(PRESETS))
def test_the_default_setting_is_the_model_itself(model):  # type: ignore[no-untyped-def]
    assert model.at(DEFAULT_SETTING) is model
    assert model.at(ReplicaSetting(1.0, 1.0)) is model


def test_h100_8b_numbers_at_default_clocks_are_unchanged() -> None:
    """The other policies' figures rest on these: they must not move."""
    m = H100_8B
    assert (m.decode_step_base_ms, m.decode_step_per_seq_ms) == (6.34, 0.0802)
    assert (m.prefill_tokens_per_s, m.prefill_power_w) == (12_200.0, 700.0)
    assert (m.held_idle_power_w, m.no_process_idle_power_w) == (115.0, 75.0)
    assert float(m.decode_power_w(8)) == 486.0 and float(m.decode_power_w(255.2)) == 691.0
    assert m.setting is None


# (clock ratio, prefill speed, decode step factor): prefill is compute-bound (speed = r),
# decode memory-bound (m + (1 - m) / r with m = 0.9, docs/gpu-model.md §5).
@pytest.mark.parametrize(
    ("ratio", "prefill_speed", "decode_factor"),
    [(0.9, 0.9, 1.0111), (0.7, 0.7, 1.0429), (0.5, 0.5, 1.1)],
)
def test_clock_lock_follows_the_phase_curves(ratio, prefill_speed, decode_factor):  # type: ignore[no-untyped-def]
    m = H100_8B.at(ReplicaSetting(sm_clock_ratio=ratio))
    assert m.prefill_tokens_per_s / H100_8B.prefill_tokens_per_s == pytest.approx(prefill_speed)
    assert m.decode_step_ms(64) / H100_8B.decode_step_ms(64) == pytest.approx(
        decode_factor, rel=1e-3
    )
    # Prefill power: the locked demand of the Zeus curve (alpha 0.549, P0 0.21 x 700 W).
    assert m.prefill_power_w == pytest.approx(
        perf.clock_locked_demand_power_w(700.0, ratio, 147.0, perf.PREFILL_CURVE_ALPHA)
    )
    for (b, p0), (b1, p1) in zip(H100_8B.decode_power_points, m.decode_power_points, strict=True):
        assert b == b1
        assert p1 == pytest.approx(perf.decode_power_w(ratio, p0, H100_8B.held_idle_power_w))
        assert p1 < p0
    # Idle power is not lowered by a lock [conservative: no published figure].
    assert m.held_idle_power_w == H100_8B.held_idle_power_w


def test_decode_energy_per_token_falls_within_the_published_range() -> None:
    """Ma et al. (H200): up to 32 % of decode energy saved by a clock lock; VoltanaLLM up to
    36.3 %: the lowest lock saves less than that at every batch."""
    for model in (H100_8B, H200_8B):
        low = model.at(ReplicaSetting(sm_clock_ratio=LOWEST_CLOCK_RATIO))
        for b in (1, 8, 32, 128):
            saving = 1.0 - low.energy_per_token_j(b) / model.energy_per_token_j(b)
            assert 0.15 < saving <= 0.363


def test_a_70pct_cap_slows_prefill_as_splitwise() -> None:
    m = H100_8B.at(ReplicaSetting(cap_fraction=0.7))
    slowdown = H100_8B.prefill_tokens_per_s / m.prefill_tokens_per_s
    assert slowdown == pytest.approx(prefill_slowdown(0.7), rel=0.01)  # x1.30
    assert m.prefill_power_w == pytest.approx(490.0)
    assert max(p for _, p in m.decode_power_points) <= 490.0 + 1e-9
    # Decode under a cap that binds slows far less than prefill (memory-bound).
    assert 1.0 < m.decode_step_ms(64) / H100_8B.decode_step_ms(64) < 1.05


@pytest.mark.parametrize(
    ("field", "value"),
    [("sm_clock_ratio", 0.4), ("sm_clock_ratio", 1.2), ("sm_clock_ratio", float("nan")),
     ("cap_fraction", 0.5), ("cap_fraction", float("inf"))],
)  # fmt: skip
def test_settings_outside_the_published_range_are_refused(field, value):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(DEFAULT_SETTING, **{field: value})


def test_a_model_at_a_setting_cannot_be_set_again() -> None:
    m = H100_8B.at(ReplicaSetting(0.8))
    assert m.setting == ReplicaSetting(0.8) and "clock 0.80" in m.name
    with pytest.raises(ValueError, match="already at a setting"):
        m.at(ReplicaSetting(0.7))
