"""`aiwo-bench autoscale`: bad input is a one-line error; a small run gives the documented JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.main import main
from tests.bench.autoscale_helpers import AZURE_CONV, M_SMALL

needs_data = pytest.mark.skipif(not M_SMALL.exists(), reason="shared data not mounted")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["autoscale", *args])
    return result.exit_code, result.output


def _one_line_error(code: int, out: str, *words: str) -> None:
    assert code != 0
    lines = [line for line in out.strip().splitlines() if line.strip()]
    assert lines and "Traceback" not in out, out
    assert lines[-1].startswith("Error"), out
    for word in words:
        assert word in lines[-1], out


def test_missing_folder(tmp_path: Path) -> None:
    code, out = _run("--servegen", str(tmp_path / "nope"), "--policies", "static")
    _one_line_error(code, out, "not a folder")


def test_folder_without_traces(tmp_path: Path) -> None:
    code, out = _run("--servegen", str(tmp_path), "--policies", "static")
    _one_line_error(code, out, "chunk-N-trace.csv")


def test_missing_trace_file(tmp_path: Path) -> None:
    code, out = _run("--trace", str(tmp_path / "x.csv"), "--policies", "static")
    _one_line_error(code, out, "no such file")


def test_bad_trace_row(tmp_path: Path) -> None:
    bad = tmp_path / "t.csv"
    bad.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6,ten,5\n")
    code, out = _run("--trace", str(bad), "--policies", "static")
    _one_line_error(code, out, "ContextTokens")


@needs_data
@pytest.mark.parametrize(
    ("args", "word"),
    [(["--days", "15"], "--days"), (["--start-day", "14"], "--start-day"),
     (["--days", "0"], "--days"), (["--start-day", "-1"], "--start-day")],
)  # fmt: skip
def test_days_out_of_range(args: list[str], word: str) -> None:
    code, out = _run("--servegen", str(M_SMALL), "--policies", "static", *args)
    _one_line_error(code, out, word, "out of range")


def test_unknown_policy_and_both_sources(tmp_path: Path) -> None:
    code, out = _run("--policies", "static,magic")
    _one_line_error(code, out, "magic")
    code, out = _run("--servegen", str(tmp_path), "--trace", str(tmp_path / "t.csv"))
    _one_line_error(code, out, "not both")


@pytest.mark.skipif(not AZURE_CONV.exists(), reason="shared data not mounted")
def test_small_run_gives_runs_and_scenario(tmp_path: Path) -> None:
    code, out = _run(
        "--trace", str(AZURE_CONV), "--days", "0.01", "--rate-scale", "10",
        "--policies", "static,hpa,kpa,oracle", "--seeds", "0-1", "-o", "json", "--workers", "1",
        "--plot", str(tmp_path / "p.png"),
    )  # fmt: skip
    assert code == 0, out
    summary = json.loads(out[out.index("{") :])
    assert set(summary["runs"]) == {"static", "hpa", "kpa", "oracle"}
    for run in summary["runs"].values():
        for key in ("slo_attainment_pct", "gpu_hours", "energy_kwh", "energy_per_request_j",
                    "requests", "requests_failed", "scale_events", "max_replicas",
                    "cold_starts"):  # fmt: skip
            assert key in run and key in run["spread"]
        assert run["seeds"] == [0, 1]
    sc = summary["scenario"]
    assert sc["rate_scale"] == 10 and sc["targets"] == {"ttft_ms": 2000.0, "tpot_ms": 50.0}
    assert sc["cold_start_s"] == 60.0 and sc["days"] == pytest.approx(0.01, abs=1e-3)
    assert summary["runs"]["oracle"]["gpu_hours"] <= summary["runs"]["static"]["gpu_hours"]
    assert (tmp_path / "p.png").stat().st_size > 0


@pytest.mark.skipif(not AZURE_CONV.exists(), reason="shared data not mounted")
def test_runs_without_matplotlib_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.autoscale import plot

    monkeypatch.setattr(plot, "available", lambda: False)
    png = tmp_path / "p.png"
    code, out = _run(
        "--trace", str(AZURE_CONV), "--days", "0.005", "--rate-scale", "5",
        "--policies", "static", "--plot", str(png), "--workers", "1",
    )  # fmt: skip
    assert code == 0, out
    assert "matplotlib is not installed" in out and not png.exists()
