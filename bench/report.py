"""Aggregating seeds (median, min, max per point) and showing them: a rich table or JSON."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

from rich.table import Table

from bench.sim import SeedResult

Summary = dict[str, dict[str, dict[str, float | None]]]


def aggregate(results: Iterable[SeedResult], points: Sequence[int]) -> Summary:
    """{policy: {"90": {"median", "min", "max"}, ...}} over the seeds, in the order first seen."""
    by_policy: dict[str, list[SeedResult]] = {}
    for r in results:
        by_policy.setdefault(r.policy, []).append(r)
    out: Summary = {}
    for policy, runs in by_policy.items():
        out[policy] = {}
        for x in points:
            values = [v for r in runs if not math.isnan(v := r.unallocated_pct[x])]
            if not values:  # no seed got that far (e.g. --tune below the point)
                out[policy][str(x)] = {"median": None, "min": None, "max": None}
                continue
            out[policy][str(x)] = {
                "median": round(statistics.median(values), 2),
                "min": round(min(values), 2),
                "max": round(max(values), 2),
            }
    return out


def table(summary: Summary, points: Sequence[int], title: str) -> Table:
    t = Table(
        title=title,
        caption="unallocated GPU % at each % of GPU capacity arrived: median (min–max) over seeds",
    )
    t.add_column("policy")
    for x in points:
        t.add_column(f"{x} %", justify="right")
    for policy, row in summary.items():
        cells = [_cell(row[str(x)]) for x in points]
        t.add_row(policy, *cells)
    return t


def _cell(p: dict[str, float | None]) -> str:
    if p["median"] is None:
        return "–"
    return f"{p['median']:.2f} ({p['min']:.2f}–{p['max']:.2f})"
