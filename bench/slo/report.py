"""Results of the three runs, per seed and over seeds (median, min, max): JSON and a table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from rich.table import Table

from bench.slo.bound import BATCH_GOAL, energy_bound
from bench.slo.run import EXTRA_MODES, MODES, RunResult
from gpumodel import perf

METRICS = (
    "slo_attainment_pct",
    "batch_throughput_kept_pct",
    "energy_kwh",
    "energy_saved_pct",
    "energy_saved_same_time_pct",
    "actions",
)
# Replica control (aiwo runs that scale; zero elsewhere): median and spread like METRICS.
SCALE_METRICS = ("scale_events", "preemptions", "max_replicas", "replica_gpu_hours")
GOALS = {"slo_attainment_pct": 99.9, "batch_throughput_kept_pct": 80.0, "energy_saved_pct": 25.0}


def per_seed(results: Sequence[RunResult]) -> dict[int, dict[str, dict[str, Any]]]:
    """{seed: {mode: metrics}}; energy saved is against that seed's `none` run.

    energy_saved_pct compares the same work: a run that did less batch work than `none` is
    charged what `none` spends on that work, its uncapped power above idle (batch_marginal_w)
    for every GPU-second of batch progress missing. The services serve the same requests in
    every run. energy_saved_same_time_pct compares the measured energy over the same duration,
    which also counts batch work not done as energy saved.
    """
    by_seed: dict[int, dict[str, RunResult]] = {}
    for r in results:
        by_seed.setdefault(r.seed, {})[r.mode] = r
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for seed, runs in by_seed.items():
        base = runs.get("none")
        out[seed] = {mode: _metrics(r, base) for mode, r in runs.items()}
    return out


def bounds(results: Sequence[RunResult]) -> dict[str, Any]:
    """The most energy any policy could save (bound.py), median and spread over seeds."""
    rows = [energy_bound(r) for r in results if r.mode == "none" and r.gpu_model]
    if not rows:
        return {}
    out: dict[str, Any] = {}
    for key in ("saved_pct", "saved_same_time_pct"):
        values = [round(getattr(b, key), 2) for b in rows]
        out[f"energy_{key}_max"] = _median(values)
        out.setdefault("spread", {})[f"energy_{key}_max"] = [min(values), max(values)]
    out["batch_kept_pct"] = 100.0 * BATCH_GOAL
    return out


def _metrics(r: RunResult, base: RunResult | None) -> dict[str, Any]:
    same_work_j = r.energy_j
    if base is not None:
        same_work_j += (base.batch_work - r.batch_work) * base.batch_marginal_w
    return {
        "slo_attainment_pct": round(r.slo_attainment_pct, 3),
        "batch_throughput_kept_pct": round(r.batch_throughput_kept_pct, 2),
        "energy_kwh": round(r.energy_kwh, 4),
        "energy_same_work_kwh": round(perf.joules_to_kwh(same_work_j), 4),
        "energy_saved_pct": _saved(same_work_j, base),
        "energy_saved_same_time_pct": _saved(r.energy_j, base),
        "actions": sum(r.actions.values()),
        "actions_by_kind": r.actions,
        "requests": r.requests,
        "max_changes_per_min": r.max_changes_per_min,
        "scale_events": r.scale.get("scale_up", 0) + r.scale.get("scale_down", 0),
        "scale_by_kind": r.scale,
        "preemptions": r.scale.get("preemptions", 0),
        "max_replicas": r.max_replicas,
        "replica_gpu_hours": round(r.replica_gpu_s / 3600.0, 3),
        "energy_by_part_kwh": {
            "idle": round(perf.joules_to_kwh(r.idle_energy_j), 4),
            "services": round(perf.joules_to_kwh(r.service_energy_j), 4),
            "batch": round(
                perf.joules_to_kwh(r.energy_j - r.idle_energy_j - r.service_energy_j), 4
            ),
        },
    }


def _saved(energy_j: float, base: RunResult | None) -> float:
    if base is None or base.energy_j <= 0.0:
        return 0.0
    return round(100.0 * (1.0 - energy_j / base.energy_j), 2)


def summarize(results: Sequence[RunResult]) -> dict[str, Any]:
    """{"runs": {mode: {metric: median, ..., "spread": {metric: [min, max]}}}, "seeds": [...]}."""
    seeds = per_seed(results)
    runs: dict[str, Any] = {}
    for mode in MODES + EXTRA_MODES:
        rows = [seeds[s][mode] for s in sorted(seeds) if mode in seeds[s]]
        if not rows:
            continue
        keys = METRICS + SCALE_METRICS
        entry: dict[str, Any] = {k: _median([r[k] for r in rows]) for k in keys}
        entry["spread"] = {k: [min(r[k] for r in rows), max(r[k] for r in rows)] for k in keys}
        entry["scale_by_kind"] = _sum_kinds([r["scale_by_kind"] for r in rows])
        entry["energy_by_part_kwh"] = _sum_kinds([r["energy_by_part_kwh"] for r in rows])
        entry["max_changes_per_min"] = {
            k: max(r["max_changes_per_min"][k] for r in rows)
            for k in rows[0]["max_changes_per_min"]
        }
        entry["actions_by_kind"] = _sum_kinds([r["actions_by_kind"] for r in rows])
        entry["requests"] = _median([r["requests"] for r in rows])
        runs[mode] = entry
    return {
        "runs": runs,
        "bound": bounds(results),
        "seeds": sorted(seeds),
        "per_seed": {str(s): seeds[s] for s in seeds},
    }


def _median(values: list[float]) -> float:
    return round(float(statistics.median(values)), 4)


def _sum_kinds(dicts: list[dict[str, int]]) -> dict[str, float]:
    keys = sorted({k for d in dicts for k in d})
    return {k: _median([d.get(k, 0) for d in dicts]) for k in keys}


def table(summary: dict[str, Any], title: str) -> Table:
    multi = len(summary["seeds"]) > 1
    caption = "median (min–max) over seeds" if multi else f"seed {summary['seeds'][0]}"
    bound = summary.get("bound") or {}
    ceiling = (
        f" The most any policy could save here (bound.py): {bound['energy_saved_pct_max']:.1f} % "
        f"same work, {bound['energy_saved_same_time_pct_max']:.1f} % same time."
        if bound
        else ""
    )
    t = Table(
        title=title,
        caption=(
            f"{caption}. Goals: SLO ≥ 99.9 %, batch kept ≥ 80 %, energy saved ≥ 25 % (same "
            f"work: batch work not done is charged what `none` spends on it).{ceiling} "
            "flaps/min: the most changes in any 60 s of one GPU's cap, one job's cooperative "
            "throttle, one job's process throttle"
        ),
    )
    t.add_column("run")
    labels = ("SLO %", "batch kept %", "kWh", "saved %", "saved %, same time", "actions")
    for label in (*labels, "flaps/min", "scale, preempt, max replicas"):
        t.add_column(label, justify="right")
    for mode, m in summary["runs"].items():
        cells = [_cell(m, k, multi) for k in METRICS]
        flaps = m["max_changes_per_min"]
        cells.append(
            f"{flaps['gpu_cap']}, {flaps['directive_throttle']}, {flaps['process_throttle']}"
        )
        cells.append(f"{m['scale_events']:g}, {m['preemptions']:g}, {m['max_replicas']:g}")
        t.add_row(mode, *cells)
    return t


def _cell(m: dict[str, Any], key: str, multi: bool) -> str:
    digits = {"slo_attainment_pct": 3, "energy_kwh": 3, "actions": 0}.get(key, 1)
    text = f"{m[key]:.{digits}f}"
    if multi:
        lo, hi = m["spread"][key]
        text += f" ({lo:.{digits}f}–{hi:.{digits}f})"
    return text
