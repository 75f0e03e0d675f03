from __future__ import annotations

import io
from pathlib import Path

import pynvml
import pytest

from nodeagent.gpu import make_backend
from nodeagent.gpu.base import BackendStatus
from nodeagent.gpu.check import EXIT_NO_GPU, EXIT_OK, EXIT_STEP_FAILED, main, run_check
from nodeagent.gpu.nvml import NvmlBackend
from nodeagent.gpu.sim import SimulatedGpuBackend
from tests.helpers import run_module
from tests.nodeagent.test_gpu_nvml import FakeNvml, hgx


def run(fake: FakeNvml, **kwargs: object) -> tuple[int, str]:
    out = io.StringIO()
    backend = NvmlBackend(fake)
    kwargs.setdefault("actuate", True)
    code = run_check(backend, out, sleep=lambda _: None, **kwargs)  # type: ignore[arg-type]
    return code, out.getvalue()


def test_full_check_lowers_reads_back_and_restores() -> None:
    fake = FakeNvml(hgx(2))
    fake.devices[0].limit_mw = 650_000  # not the default: the check must restore what it found
    code, text = run(fake)
    assert code == EXIT_OK
    assert "inventory: 2 GPUs" in text
    assert text.count("sample ") == 3
    assert "setting 450 W" in text  # midpoint of [200, 700]
    assert "read back 450 W (enforced 450 W)" in text
    assert "restored 650 W" in text
    assert fake.devices[0].limit_mw == 650_000


def test_same_value_mode_sets_the_limit_it_found() -> None:
    fake = FakeNvml(hgx(1))
    fake.devices[0].limit_mw = 650_000
    code, text = run(fake, same_value=True)
    assert code == EXIT_OK
    assert "now 650 W; setting 650 W" in text
    assert "read back 650 W" in text
    assert fake.calls.count("nvmlDeviceSetPowerManagementLimit") == 2  # set, then restore
    assert fake.devices[0].limit_mw == 650_000


def test_refused_power_limit_is_reported_and_exits_1() -> None:
    fake = FakeNvml()
    fake.fail[("nvmlDeviceSetPowerManagementLimit", 0)] = pynvml.NVML_ERROR_NO_PERMISSION
    code, text = run(fake)
    assert code == EXIT_STEP_FAILED
    assert "set refused: not permitted: nvmlDeviceSetPowerManagementLimit" in text


def test_read_only_mode_touches_no_actuator() -> None:
    fake = FakeNvml()
    code, _ = run(fake, actuate=False, samples=1)
    assert code == EXIT_OK
    assert "nvmlDeviceSetPowerManagementLimit" not in fake.calls


def test_no_library_prints_one_line_and_exits_2() -> None:
    fake = FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    code, text = run(fake)
    assert code == EXIT_NO_GPU
    assert text.splitlines() == [
        "gpu-check: no usable NVIDIA GPU (nvml library_missing: "
        "nvmlInit: NVML Shared Library Not Found)"
    ]


def test_main_on_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    """The real pynvml here: a GPU machine runs the whole check; this one has none."""
    probe = NvmlBackend()
    usable = probe.state().status in (BackendStatus.OK, BackendStatus.DEGRADED)
    probe.close()
    code = main(["--interval", "0", "--no-actuate"])
    out = capsys.readouterr().out
    if usable:
        assert code == EXIT_OK
    else:
        assert code == EXIT_NO_GPU
        assert len(out.splitlines()) == 1 and out.startswith("gpu-check: no usable NVIDIA GPU")


def test_module_entry_point_exit_status() -> None:
    proc = run_module("nodeagent.gpu.check", "--no-actuate", "--interval", "0")
    assert proc.returncode in (EXIT_OK, EXIT_NO_GPU), proc.stderr
    assert proc.stderr == ""


def test_make_backend_kinds() -> None:
    sim = make_backend("sim", model="A100-80GB", count=4, seed=1, node_name="n1")
    assert isinstance(sim, SimulatedGpuBackend)
    assert [g.model for g in sim.inventory()] == ["A100-80GB"] * 4
    nvml = make_backend("nvml")
    try:
        assert nvml.state().kind == "nvml"
    finally:
        nvml.close()
    with pytest.raises(ValueError, match="expected one of: sim, nvml"):
        make_backend("rocm")
    with pytest.raises(ValueError, match="known models"):
        make_backend("sim", model="B300")


def _main_with(fake: FakeNvml, argv: list[str]) -> int:
    return main(["--interval", "0", "--samples", "1", *argv], nvml_module=fake)


SET_CALLS = ("nvmlDeviceSetPowerManagementLimit", "nvmlDeviceSetGpuLockedClocks")


def test_default_is_read_only_and_changes_no_setting() -> None:
    """Pinned: `make gpu-check` with no flag must never write a GPU setting (issue 10 §4)."""
    fake = FakeNvml(hgx(2))
    before = [d.limit_mw for d in fake.devices]
    assert _main_with(fake, []) == EXIT_OK
    assert not any(call in fake.calls for call in SET_CALLS)
    assert [d.limit_mw for d in fake.devices] == before


def test_same_value_leaves_the_limit_and_allow_gpu_changes_is_the_only_real_change() -> None:
    fake = FakeNvml(hgx(1))
    fake.devices[0].limit_mw = 650_000
    assert _main_with(fake, ["--same-value"]) == EXIT_OK
    assert fake.devices[0].limit_mw == 650_000
    fake.calls.clear()
    assert _main_with(fake, ["--allow-gpu-changes"]) == EXIT_OK
    assert fake.calls.count("nvmlDeviceSetPowerManagementLimit") == 2  # mid-range, then restore
    assert fake.devices[0].limit_mw == 650_000


def test_makefile_gpu_check_passes_no_opt_in() -> None:
    text = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    recipe = text.split("gpu-check:", 1)[1].split("\n\n", 1)[0]
    assert "nodeagent.gpu.check" in recipe and "--allow-gpu-changes" not in recipe
