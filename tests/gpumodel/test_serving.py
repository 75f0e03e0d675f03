"""The serving model against the data it was fitted to (shape and the published figures)."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

from gpumodel.serving import H100_8B, H200_8B, PRESETS, prefill_slowdown

# The shared data sits beside the checkout (../shared/data) or beside the worktrees' parent.
DATA = next(
    (p / "shared" / "data" for p in Path(__file__).resolve().parents if (p / "shared").is_dir()),
    Path("shared") / "data",
)
ML_ENERGY = DATA / "ml-energy" / "llm_configurations.csv"
SPLITWISE = DATA / "splitwise" / "perf_model.csv"
needs_data = pytest.mark.skipif(not ML_ENERGY.exists(), reason="shared data not mounted")


def _llama8b_h100_rows() -> list[dict[str, str]]:
    with ML_ENERGY.open(newline="") as fh:
        rows = [
            r
            for r in csv.DictReader(fh)
            if r["model_id"] == "meta-llama/Llama-3.1-8B-Instruct"
            and r["task"] == "lm-arena-chat"
            and r["gpu_model"] == "H100"
            and r["num_gpus"] == "1"
        ]
    return sorted(rows, key=lambda r: float(r["avg_batch_size"]))


@pytest.mark.parametrize("model", list(PRESETS.values()), ids=list(PRESETS))
def test_step_time_rises_and_energy_per_token_falls_with_batch(model):  # type: ignore[no-untyped-def]
    batches = [1, 2, 4, 8, 16, 32, 64, 128]
    steps = [model.decode_step_ms(b) for b in batches]
    energy = [model.energy_per_token_j(b) for b in batches]
    assert all(a < b for a, b in itertools.pairwise(steps))
    assert all(a > b for a, b in itertools.pairwise(energy))
    tput = [model.decode_tokens_per_s(b) for b in batches]
    assert all(a < b for a, b in itertools.pairwise(tput))


def test_h200_preset_gives_section9_figures() -> None:
    """docs/gpu-model.md §9: energy/token falls 43x from batch 1 to 128 for 2.3x the step."""
    fall = H200_8B.energy_per_token_j(1) / H200_8B.energy_per_token_j(128)
    stretch = H200_8B.decode_step_ms(128) / H200_8B.decode_step_ms(1)
    assert fall == pytest.approx(43, rel=0.05)
    assert stretch == pytest.approx(2.3, rel=0.05)


def test_h100_preset_shows_the_same_shape_within_a_quarter() -> None:
    """Another GPU and a real engine: the same lever, 43x and 2.3x within 25 %."""
    fall = H100_8B.energy_per_token_j(1) / H100_8B.energy_per_token_j(128)
    stretch = H100_8B.decode_step_ms(128) / H100_8B.decode_step_ms(1)
    assert fall == pytest.approx(43, rel=0.25)
    assert stretch == pytest.approx(2.3, rel=0.25)


@needs_data
def test_h100_decode_fit_matches_ml_energy_rows() -> None:
    rows = [r for r in _llama8b_h100_rows() if float(r["avg_batch_size"]) <= 512]
    assert len(rows) == 10
    b = np.array([float(r["avg_batch_size"]) for r in rows])
    itl = np.array([float(r["median_itl_ms"]) for r in rows])
    s0, s1 = np.linalg.lstsq(np.vstack([np.ones_like(b), b]).T, itl, rcond=None)[0]
    assert H100_8B.decode_step_base_ms == pytest.approx(s0, rel=0.02)
    assert H100_8B.decode_step_per_seq_ms == pytest.approx(s1, rel=0.02)
    for batch, measured in zip(b, itl, strict=True):  # every row within 10 %
        assert H100_8B.decode_step_ms(batch) == pytest.approx(measured, rel=0.10)
    for r in rows:  # power within 2 %, tokens/s (which includes prefill time) within 15 %
        batch = float(r["avg_batch_size"])
        assert float(H100_8B.decode_power_w(batch)) == pytest.approx(
            float(r["avg_power_watts"]), rel=0.02
        )
        assert H100_8B.decode_tokens_per_s(batch) == pytest.approx(
            float(r["output_throughput_tokens_per_sec"]), rel=0.15
        )


@needs_data
def test_prefill_rate_and_cap_slowdown_follow_splitwise() -> None:
    with SPLITWISE.open(newline="") as fh:
        rows = [
            r
            for r in csv.DictReader(fh)
            if r["model"] == "llama2-70b" and r["tensor_parallel"] == "8"
        ]

    def median(hw: str, prompt: int, batch: int, column: str) -> float:
        values = [
            float(r[column])
            for r in rows
            if r["hardware"] == hw and int(r["prompt_size"]) == prompt
            and int(r["batch_size"]) == batch
        ]  # fmt: skip
        return float(np.median(values))

    ms_per_token = (
        median("h100-80gb", 512, 64, "prompt_time") - median("h100-80gb", 512, 8, "prompt_time")
    ) / (512 * 56)
    per_gpu_flops = 2 * 70e9 * (1000.0 / ms_per_token) / 8
    assert H100_8B.prefill_tokens_per_s == pytest.approx(per_gpu_flops / (2 * 8.03e9), rel=0.03)
    capped = median("h100-80gb-pcap", 1024, 1, "prompt_time")
    assert capped / median("h100-80gb", 1024, 1, "prompt_time") == pytest.approx(
        prefill_slowdown(0.7), rel=0.02
    )
    # Decode is memory-bound: the cap leaves token time alone, and so does the model.
    token_ratio = median("h100-80gb-pcap", 512, 64, "token_time") / median(
        "h100-80gb", 512, 64, "token_time"
    )
    assert token_ratio == pytest.approx(1.0, abs=0.01)
    assert H100_8B.decode_step_ms(64, cap_fraction=0.7) == H100_8B.decode_step_ms(64)
    assert H100_8B.prefill_ms(1024, cap_fraction=0.7) > H100_8B.prefill_ms(1024)


def test_idle_power_held_above_no_process() -> None:
    """§9: a GPU held by an idle process draws 121-127 W against 80 W with none."""
    assert 121 <= H200_8B.held_idle_power_w <= 127
    assert 79 <= H200_8B.no_process_idle_power_w <= 82
    for m in PRESETS.values():
        assert m.no_process_idle_power_w < m.held_idle_power_w < float(m.decode_power_w(1))
        assert float(m.power_w(0.0, 0.0, 1)) == m.held_idle_power_w


def test_capacity_respects_the_tpot_target() -> None:
    lam = H100_8B.max_rate_per_s(120, 14, tpot_target_ms=50)
    f = lam * 120 / H100_8B.prefill_tokens_per_s
    batch = lam * 14 * 0.05
    assert H100_8B.tpot_ms(batch, f) == pytest.approx(50, rel=1e-6)
    assert H100_8B.max_rate_per_s(120, 14, 50, headroom=0.8) < lam
    assert H100_8B.max_rate_per_s(120, 14, tpot_target_ms=5) == 0.0  # below one step
    with pytest.raises(ValueError):
        H100_8B.decode_step_ms(8, cap_fraction=0.5)
