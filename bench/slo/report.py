"""Results of the three runs, per seed and over seeds (median, min, max): JSON and a table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from rich.table import Table

from bench.slo.run import EXTRA_MODES, MODES, RunResult

METRICS = (
    "slo_attainment_pct",
    "batch_throughput_kept_pct",
    "energy_kwh",
    "energy_saved_pct",
    "actions",
)
GOALS = {"slo_attainment_pct": 99.9, "batch_throughput_kept_pct": 80.0, "energy_saved_pct": 25.0}


def per_seed(results: Sequence[RunResult]) -> dict[int, dict[str, dict[str, Any]]]:
    """{seed: {mode: metrics}}; energy saved is against that seed's `none` run."""
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for r in results:
        out.setdefault(r.seed, {})[r.mode] = _metrics(r)
    for runs in out.values():
        base = runs["none"]["energy_kwh"] if "none" in runs else None
        for m in runs.values():
            m["energy_saved_pct"] = (
                round(100.0 * (1.0 - m["energy_kwh"] / base), 2) if base else 0.0
            )
    return out


def _metrics(r: RunResult) -> dict[str, Any]:
    return {
        "slo_attainment_pct": round(r.slo_attainment_pct, 3),
        "batch_throughput_kept_pct": round(r.batch_throughput_kept_pct, 2),
        "energy_kwh": round(r.energy_kwh, 4),
        "energy_saved_pct": 0.0,
        "actions": sum(r.actions.values()),
        "actions_by_kind": r.actions,
        "requests": r.requests,
        "max_changes_per_min": r.max_changes_per_min,
    }


def summarize(results: Sequence[RunResult]) -> dict[str, Any]:
    """{"runs": {mode: {metric: median, ..., "spread": {metric: [min, max]}}}, "seeds": [...]}."""
    seeds = per_seed(results)
    runs: dict[str, Any] = {}
    for mode in MODES + EXTRA_MODES:
        rows = [seeds[s][mode] for s in sorted(seeds) if mode in seeds[s]]
        if not rows:
            continue
        entry: dict[str, Any] = {k: _median([r[k] for r in rows]) for k in METRICS}
        entry["spread"] = {k: [min(r[k] for r in rows), max(r[k] for r in rows)] for k in METRICS}
        entry["max_changes_per_min"] = {
            k: max(r["max_changes_per_min"][k] for r in rows)
            for k in rows[0]["max_changes_per_min"]
        }
        entry["actions_by_kind"] = _sum_kinds([r["actions_by_kind"] for r in rows])
        entry["requests"] = _median([r["requests"] for r in rows])
        runs[mode] = entry
    return {"runs": runs, "seeds": sorted(seeds), "per_seed": {str(s): seeds[s] for s in seeds}}


def _median(values: list[float]) -> float:
    return round(float(statistics.median(values)), 4)


def _sum_kinds(dicts: list[dict[str, int]]) -> dict[str, float]:
    keys = sorted({k for d in dicts for k in d})
    return {k: _median([d.get(k, 0) for d in dicts]) for k in keys}


def table(summary: dict[str, Any], title: str) -> Table:
    multi = len(summary["seeds"]) > 1
    caption = "median (min–max) over seeds" if multi else f"seed {summary['seeds'][0]}"
    t = Table(
        title=title,
        caption=(
            f"{caption}. Goals: SLO ≥ 99.9 %, batch kept ≥ 80 %, energy saved ≥ 25 %. "
            "flaps/min: the most changes in any 60 s of one GPU's cap, one job's cooperative "
            "throttle, one job's process throttle"
        ),
    )
    t.add_column("run")
    for label in ("SLO %", "batch kept %", "kWh", "saved %", "actions", "flaps/min"):
        t.add_column(label, justify="right")
    for mode, m in summary["runs"].items():
        cells = [_cell(m, k, multi) for k in METRICS]
        flaps = m["max_changes_per_min"]
        cells.append(
            f"{flaps['gpu_cap']}, {flaps['directive_throttle']}, {flaps['process_throttle']}"
        )
        t.add_row(mode, *cells)
    return t


def _cell(m: dict[str, Any], key: str, multi: bool) -> str:
    digits = {"slo_attainment_pct": 3, "energy_kwh": 3, "actions": 0}.get(key, 1)
    text = f"{m[key]:.{digits}f}"
    if multi:
        lo, hi = m["spread"][key]
        text += f" ({lo:.{digits}f}–{hi:.{digits}f})"
    return text
