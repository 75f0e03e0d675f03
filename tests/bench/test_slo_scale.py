"""aiwo-bench slo's replica control: the controller's autoscaler and placement cores grow a
service onto a GPU a batch job holds when it breaches, and give the GPU back after."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from bench.main import main
from bench.slo import scale
from bench.slo.run import simulate
from bench.slo.scenario import Scenario
from bench.slo.trace import LlmTrace
from tests.bench.test_slo_bench import synthetic_trace

# One node, two GPUs, full: one service next to a job, two jobs on the other GPU.
SMALL = Scenario(nodes=1, gpus_per_node=2, services=1, batch_jobs=3)


def burst_then_quiet(busy_s: float, rate_rps: float, quiet_s: float) -> LlmTrace:
    """A service's load: `rate_rps` for `busy_s`, then one request every 10 s."""
    rng = np.random.default_rng(3)
    busy = np.cumsum(rng.exponential(1.0 / rate_rps, size=int(busy_s * rate_rps)))
    busy = busy[busy < busy_s]
    quiet = np.arange(busy_s, busy_s + quiet_s, 10.0)
    t = np.concatenate([busy, quiet])
    n = t.size
    return LlmTrace(
        Path("burst.csv"),
        t - t[0],
        rng.integers(200, 2000, size=n).astype(np.int64),
        rng.integers(100, 400, size=n).astype(np.int64),
    )


def test_a_breaching_service_grows_onto_a_batch_gpu_and_gives_it_back(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = {"plan_scale": 0, "optimize": 0}
    real_plan, real_optimize = scale.plan_scale, scale.optimize

    def plan(*a, **k):  # type: ignore[no-untyped-def]
        calls["plan_scale"] += 1
        return real_plan(*a, **k)

    def place(*a, **k):  # type: ignore[no-untyped-def]
        calls["optimize"] += 1
        return real_optimize(*a, **k)

    monkeypatch.setattr(scale, "plan_scale", plan)
    monkeypatch.setattr(scale, "optimize", place)
    trace = burst_then_quiet(400.0, 12.0, 800.0)
    r = simulate(SMALL, trace, "aiwo", 1200.0, 0)
    assert calls["plan_scale"] > 0 and calls["optimize"] > 0  # the controller's own cores
    assert r.scale.get("scale_up", 0) >= 1
    assert r.scale.get("preemptions", 0) >= 1  # no share was free: a job made room
    assert r.max_replicas >= 2
    assert r.scale.get("scale_down", 0) >= 1  # quiet: back to one replica
    # every preempted job got a GPU again once the replica drained
    assert r.scale.get("jobs_placed", 0) >= r.scale["preemptions"]


def test_fixed_replicas_in_the_other_runs_and_with_no_autoscale() -> None:
    trace = burst_then_quiet(200.0, 12.0, 100.0)
    for mode in ("none", "priority"):
        r = simulate(SMALL, trace, mode, 300.0, 0)
        assert r.scale == {} and r.max_replicas == 1
    off = simulate(replace(SMALL, autoscale=False), trace, "aiwo", 300.0, 0)
    assert off.scale == {} and off.max_replicas == 1


def test_a_heavier_trace_runs_and_reports_replica_control(tmp_path: Path) -> None:
    path = synthetic_trace(tmp_path)
    out = CliRunner().invoke(
        main,
        [
            "slo",
            "--trace",
            str(path),
            "--duration",
            "180",
            "--rate-scale",
            "3",
            "--max-replicas",
            "3",
            "-o",
            "json",
            "--workers",
            "1",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["scenario"]["autoscale"] is True
    assert data["scenario"]["max_replicas"] == 3
    assert data["scenario"]["cold_start_s"] == 60.0
    for run in data["runs"].values():
        for key in ("scale_events", "preemptions", "max_replicas", "replica_gpu_hours"):
            assert isinstance(run[key], float | int)
            assert key in run["spread"]
    assert data["runs"]["none"]["scale_events"] == 0
    assert data["runs"]["none"]["max_replicas"] == 6
    assert data["runs"]["aiwo"]["max_replicas"] >= 6
