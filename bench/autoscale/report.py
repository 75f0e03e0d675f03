"""Runs over seeds: median and spread per policy, the goals of issue 10, a table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from rich.table import Table

from bench.autoscale.run import RunResult

METRICS = (
    "slo_attainment_pct",
    "gpu_hours",
    "energy_kwh",
    "energy_per_request_j",
    "pool_energy_kwh",
    "requests",
    "requests_failed",
    "scale_events",
    "max_replicas",
    "cold_starts",
    "mean_clock_ratio",
    "mean_cap_fraction",
    "setting_changes",
    "wall_s",
)


def summarize(results: Sequence[RunResult]) -> dict[str, Any]:
    by_policy: dict[str, list[RunResult]] = {}
    for r in results:
        by_policy.setdefault(r.policy, []).append(r)
    runs: dict[str, Any] = {}
    for name, rs in by_policy.items():
        rs = sorted(rs, key=lambda r: r.seed)
        out: dict[str, Any] = {}
        spread: dict[str, list[float]] = {}
        for key in METRICS:
            values = [r.metrics[key] for r in rs]
            out[key] = _median(values)
            spread[key] = [min(values), max(values)]
        out["spread"] = spread
        out["seeds"] = [r.seed for r in rs]
        runs[name] = out
    return {"runs": runs, "goals": goals(runs)}


def goals(runs: dict[str, Any]) -> dict[str, Any]:
    """Issue 10's goals for aiwo, each with the numbers it compares (medians)."""
    a = runs.get("aiwo")
    if a is None:
        return {}
    out: dict[str, Any] = {
        "within_slo_99_9_and_none_failed": a["slo_attainment_pct"] >= 99.9
        and a["requests_failed"] == 0,
    }
    if "oracle" in runs:
        ratio = a["gpu_hours"] / max(1e-9, runs["oracle"]["gpu_hours"])
        out["gpu_hours_vs_oracle"] = round(ratio, 3)
        out["gpu_hours_within_1_3x_oracle"] = ratio <= 1.3
    for base in ("hpa", "kpa"):
        if base in runs:
            b = runs[base]
            out[f"at_least_{base}_attainment_with_no_more_gpu_hours"] = (
                a["slo_attainment_pct"] >= b["slo_attainment_pct"]
                and a["gpu_hours"] <= b["gpu_hours"]
            )
    if "static" in runs:
        s = runs["static"]["energy_per_request_j"]
        saved = 100.0 * (1.0 - a["energy_per_request_j"] / s) if s else 0.0
        out["energy_per_request_below_static_pct"] = round(saved, 2)
        out["energy_per_request_40pct_below_static"] = saved >= 40.0
    return out


def _median(values: list[Any]) -> Any:
    m = statistics.median(values)
    return int(m) if all(isinstance(v, int) for v in values) and m == int(m) else round(m, 4)


def table(summary: dict[str, Any], title: str) -> Table:
    t = Table(title=title)
    t.add_column("policy")
    cols = ("slo_attainment_pct", "gpu_hours", "energy_kwh", "energy_per_request_j",
            "requests_failed", "scale_events", "max_replicas", "cold_starts",
            "mean_clock_ratio")  # fmt: skip
    for c in cols:
        t.add_column(c.replace("_", " "), justify="right")
    for name, run in summary["runs"].items():
        cells = []
        for c in cols:
            lo, hi = run["spread"][c]
            cell = f"{run[c]:g}"
            if lo != hi:
                cell += f" [{lo:g}-{hi:g}]"
            cells.append(cell)
        t.add_row(name, *cells)
    return t
