from __future__ import annotations

import pytest

from gpumodel.models import (
    UnknownGpuModelError,
    canonical_model_name,
    get_model,
    known_models,
    model_from_nvml_name,
)

# The brief's required models, by the names callers will use.
REQUIRED = ["H100", "H200", "A100-80GB", "A100-40GB", "L4", "A10", "T4", "V100-32GB",
            "V100M32", "V100-16GB", "V100M16", "P100", "G2", "G3"]  # fmt: skip


@pytest.mark.parametrize("name", REQUIRED)
def test_every_required_model_is_consistent(name: str) -> None:
    m = get_model(name)
    assert 0 < m.power_limit_min_w <= m.power_limit_default_w <= m.power_limit_max_w
    assert 0 < m.idle_power_w < m.power_limit_min_w
    # The throughput curve must not reach zero inside the settable range.
    assert m.curve_p0_w < m.power_limit_min_w
    assert 0 < m.curve_alpha < 1
    assert m.min_sm_clock_mhz < m.max_sm_clock_mhz
    assert m.memory_total_mib > 0 and m.fp16_tflops > 0
    assert m.source.startswith("gpu-models.md")


def test_sourced_numbers_match_gpu_models_md() -> None:
    h100 = get_model("H100")
    assert (h100.memory_total_mib, h100.power_limit_min_w, h100.power_limit_max_w) == (
        81559,
        200,
        700,
    )
    a100 = get_model("A100-80GB")
    assert (a100.power_limit_min_w, a100.power_limit_max_w, a100.idle_power_w) == (100, 400, 63)
    l4 = get_model("L4")
    assert (l4.power_limit_min_w, l4.power_limit_max_w, l4.max_sm_clock_mhz) == (40, 72, 2040)
    v100 = get_model("V100-32GB")
    assert (v100.curve_alpha, v100.curve_p0_w) == (0.43, 36.0)  # the Zeus fit


def test_trace_codes_and_guesses_are_marked_estimates() -> None:
    for code in ("G2", "G3"):
        est = get_model(code).estimated
        assert "power_limit_max_w" in est and "idle_power_w" in est
    assert "memory_total_mib" not in get_model("G2").estimated  # sourced (g)
    assert get_model("V100-32GB").estimated == ()


def test_lookup_is_case_insensitive_and_resolves_aliases() -> None:
    assert get_model("h100") is get_model("H100")
    assert get_model(" v100m32 ").name == "V100-32GB"
    assert get_model("V100M16").name == "V100-16GB"
    assert canonical_model_name("v100m32") == "V100-32GB"
    assert canonical_model_name("MI300X") == "MI300X"  # unknown names pass through


def test_unknown_model_error_lists_known_models() -> None:
    with pytest.raises(UnknownGpuModelError) as info:
        get_model("B300")
    message = str(info.value)
    assert "unknown GPU model 'B300'" in message
    for name in ("H100", "T4", "V100M32", "G2"):
        assert name in message
    assert set(REQUIRED) <= set(known_models())


@pytest.mark.parametrize(
    ("nvml_name", "model"),
    [
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("NVIDIA H200", "H200"),
        ("NVIDIA A100-SXM4-80GB", "A100-80GB"),
        ("NVIDIA A100-PCIE-40GB", "A100-40GB"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA A10", "A10"),
        ("Tesla T4", "T4"),
        ("Tesla V100-SXM2-32GB", "V100-32GB"),
        ("Tesla V100S-PCIE-32GB", "V100-32GB"),
        ("Tesla V100-SXM2-16GB", "V100-16GB"),
        ("Tesla P100-PCIE-16GB", "P100"),
        ("NVIDIA L40S", "L40S"),  # not L4
        ("NVIDIA A10G", "A10G"),  # not A10
        ("NVIDIA GeForce RTX 4090", "RTX-4090"),
    ],
)
def test_nvml_names_map_to_models(nvml_name: str, model: str) -> None:
    assert model_from_nvml_name(nvml_name) == model
