"""Aggregating seeds (median, min, max per point) and showing them: a rich table or JSON."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

from rich.table import Table

from bench.sim import SeedResult


def aggregate(results: Iterable[SeedResult],
              points: Sequence[int]) -> dict[str, dict[str, dict[str, float]]]:
    """{policy: {"90": {"median", "min", "max"}, ...}} over the seeds, in the order first seen."""
    by_policy: dict[str, list[SeedResult]] = {}
    for r in results:
        by_policy.setdefault(r.policy, []).append(r)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for policy, runs in by_policy.items():
        out[policy] = {}
        for x in points:
            values = [r.unallocated_pct[x] for r in runs]
            out[policy][str(x)] = {
                "median": round(statistics.median(values), 2),
                "min": round(min(values), 2),
                "max": round(max(values), 2),
            }
    return out


def table(summary: dict[str, dict[str, dict[str, float]]], points: Sequence[int],
          title: str) -> Table:
    t = Table(title=title, caption="unallocated GPU %: median (min–max) over seeds")
    t.add_column("policy")
    for x in points:
        t.add_column(f"{x} % arrived", justify="right")
    for policy, row in summary.items():
        cells = [f"{row[str(x)]['median']:.2f} ({row[str(x)]['min']:.2f}–{row[str(x)]['max']:.2f})"
                 for x in points]
        t.add_row(policy, *cells)
    return t
