"""bench.gpu_measure's parts that need no GPU; the whole script when PyTorch is installed."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import gpu_measure


def test_the_decode_shape_reads_an_8b_models_weights() -> None:
    assert gpu_measure.DecodeShape().weight_bytes() == 64 * 218_103_808  # 13.96 GB of bf16
    assert gpu_measure.DecodeShape.tiny().weight_bytes() < 10_000_000


def test_latency_figures_are_order_statistics() -> None:
    figures = gpu_measure._latency_figures([float(v) for v in range(1, 101)])
    assert figures == {"steps": 100, "step_ms_p50": 51, "step_ms_p99": 100, "step_ms_mean": 50.5}


def test_a_neighbour_is_a_role_and_a_duty() -> None:
    assert gpu_measure._neighbour_spec("gemm:0.25") == ("gemm", 0.25)
    assert gpu_measure._neighbour_spec("decode") == ("decode", 1.0)
    with pytest.raises(argparse.ArgumentTypeError, match="expected gemm or decode"):
        gpu_measure._neighbour_spec("prefill:1")


def test_a_phase_is_one_json_line_with_the_callers_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(gpu_measure, "_OUT", [out])
    meter = gpu_measure.NullMeter(0)
    with meter.phase("decode batch 8", {"batch": 8}) as figures:
        figures["tokens_per_s"] = 1670.0
    record = json.loads(out.read_text())
    assert record["name"] == "decode batch 8"
    assert record["extra"] == {"batch": 8, "tokens_per_s": 1670.0}
    assert record["seconds"] >= 0
    assert json.loads(capsys.readouterr().out) == record


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_a_dry_run_goes_through_every_phase(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    subprocess.run(
        [sys.executable, "-m", "bench.gpu_measure", "--dry-run", "--out", str(out), "--idle-s", "0",
         "--phase-s", "0.2", "--coloc-s", "0.2", "--batches", "1", "--duties", "0.5",
         "--gemm-n", "64", "--neighbours", "gemm:0.5", "--scratch", str(tmp_path)],
        check=True, timeout=300,
    )  # fmt: skip
    names = [json.loads(line)["name"] for line in out.read_text().splitlines()]
    assert "decode batch 1" in names and "neighbour gemm-0.5" in names


class _RecordingNvml:
    """pynvml's setting calls, recorded (the GPU boundary: no GPU here)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self.limit_mw = 700_000

    def nvmlDeviceGetPowerManagementLimit(self, handle: object) -> int:
        return self.limit_mw

    def nvmlDeviceSetPowerManagementLimit(self, handle: object, mw: int) -> None:
        self.calls.append(("set_limit", (mw,)))
        self.limit_mw = mw

    def nvmlDeviceSetGpuLockedClocks(self, handle: object, lo: int, hi: int) -> None:
        self.calls.append(("lock", (lo, hi)))

    def nvmlDeviceResetGpuLockedClocks(self, handle: object) -> None:
        self.calls.append(("reset_clocks", ()))


def test_a_settings_sweep_always_restores_what_it_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_measure.time, "sleep", lambda _: None)
    meter = gpu_measure.NullMeter(0)
    meter.nvml, meter.handle = _RecordingNvml(), object()  # type: ignore[attr-defined]
    sweep = gpu_measure.SettingsSweep(meter)
    with pytest.raises(RuntimeError), sweep.power_limit(400):
        raise RuntimeError("the workload failed mid-block")
    with sweep.sm_clock(1200):
        pass
    assert meter.nvml.calls == [  # type: ignore[attr-defined]
        ("set_limit", (400_000,)),
        ("set_limit", (700_000,)),
        ("lock", (1200, 1200)),
        ("reset_clocks", ()),
    ]


def test_sweeping_settings_must_be_asked_for() -> None:
    args = argparse.Namespace(caps=[400.0], clocks=[], change_settings=False)
    with pytest.raises(SystemExit, match="add --allow-gpu-changes"):
        gpu_measure._sweep_settings(args, None, gpu_measure.NullMeter(0), {}, None)  # type: ignore[arg-type]
