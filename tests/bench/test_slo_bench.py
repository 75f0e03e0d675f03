"""aiwo-bench slo end to end on a small synthetic trace: the three runs, JSON, one code path."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from bench.main import main
from bench.slo import control
from bench.slo.report import METRICS
from bench.slo.run import simulate
from bench.slo.scenario import Scenario, place
from bench.slo.trace import read_llm_trace


def synthetic_trace(tmp_path: Path, seconds: int = 240, rate: float = 4.0) -> Path:
    rng = np.random.default_rng(7)
    t = np.cumsum(rng.exponential(1.0 / rate, size=int(seconds * rate)))
    rows = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for s in t[t < seconds]:
        whole = int(s)
        frac = f"{s - whole:.7f}"[2:]
        rows.append(
            f"2023-11-16 18:{10 + whole // 60:02d}:{whole % 60:02d}.{frac},"
            f"{int(rng.integers(50, 3000))},{int(rng.integers(5, 400))}"
        )
    path = tmp_path / "trace.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_json_has_the_three_runs_and_the_metrics(tmp_path: Path) -> None:
    path = synthetic_trace(tmp_path)
    out = CliRunner().invoke(
        main, ["slo", "--trace", str(path), "--duration", "180", "-o", "json", "--workers", "1"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert set(data["runs"]) == {"none", "priority", "aiwo"}
    for run in data["runs"].values():
        for key in METRICS:  # every metric the report declares is a number in every run
            assert isinstance(run[key], float | int)
    assert data["runs"]["none"]["energy_saved_pct"] == 0.0
    assert data["runs"]["none"]["energy_saved_same_time_pct"] == 0.0
    assert set(data["bound"]) >= {"energy_saved_pct_max", "energy_saved_same_time_pct_max"}
    assert data["runs"]["none"]["actions"] == 0 and data["runs"]["aiwo"]["actions"] > 0


def test_malformed_trace_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.1,x,5\n")
    out = CliRunner().invoke(main, ["slo", "--trace", str(path)])
    assert out.exit_code == 1
    assert f"{path}:2: column 'ContextTokens'" in out.output


def test_aiwo_run_calls_the_controllers_plan_runtime(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = []
    real = control.plan_runtime

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(control, "plan_runtime", spy)
    trace = read_llm_trace(synthetic_trace(tmp_path))
    simulate(Scenario(), trace, "aiwo", 60.0, 0)
    assert calls == [5.0 * k for k in range(1, 13)]  # every control period
    assert control.plan_runtime is spy
    from controlplane.optimizer import plan_runtime

    assert real is plan_runtime


def test_same_seed_same_result_and_runs_see_the_same_requests(tmp_path: Path) -> None:
    trace = read_llm_trace(synthetic_trace(tmp_path))
    a = simulate(Scenario(), trace, "aiwo", 120.0, 3)
    b = simulate(Scenario(), trace, "aiwo", 120.0, 3)
    assert a == b
    none = simulate(Scenario(), trace, "none", 120.0, 3)
    priority = simulate(Scenario(), trace, "priority", 120.0, 3)
    assert abs(none.requests - priority.requests) <= 3  # same arrivals; a few still in flight


def test_placements() -> None:
    s = replace(Scenario(), services=2, batch_jobs=4, nodes=1, gpus_per_node=4)
    spread = place(s, "spread")
    assert {spread[k] for k in spread if "svc" in k} <= {spread[k] for k in spread if "job" in k}
    priority = place(s, "priority")
    svc_gpus = {priority[k] for k in priority if "svc" in k}
    assert len(svc_gpus) == 2
    assert not svc_gpus & {priority[k] for k in priority if "job" in k}


def test_set_overrides_the_runtime_config_and_names_bad_fields(tmp_path: Path) -> None:
    path = str(synthetic_trace(tmp_path))
    args = ["slo", "--trace", path, "--duration", "60", "-o", "json", "--workers", "1"]
    out = CliRunner().invoke(
        main, [*args, "--set", "energy=false", "--set", "relax_backoff_max=1", "--rate-scale", "2"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["scenario"]["overrides"] == ["energy=false", "relax_backoff_max=1"]
    assert data["scenario"]["rate_scale"] == 2.0
    assert "SetPowerCap" not in data["runs"]["aiwo"]["actions_by_kind"]
    for bad, says in [
        ("nope=1", "RuntimeConfig field"),
        ("relax_ratio=0.95", "relax_ratio"),
        ("energy=maybe", "not a bool"),
    ]:
        out = CliRunner().invoke(main, [*args, "--set", bad])
        assert out.exit_code == 2 and says in out.output, out.output
