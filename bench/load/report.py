"""The load generator's own latency report: medians and p99s, errors, rates."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from bench.load.generator import Outcome


def spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    a = np.asarray(values, dtype=np.float64)
    return {
        "count": int(a.size),
        "median": round(float(np.median(a)), 3),
        "p90": round(float(np.percentile(a, 90)), 3),
        "p99": round(float(np.percentile(a, 99)), 3),
        "max": round(float(a.max()), 3),
        "mean": round(float(a.mean()), 3),
    }


def summarize(outcomes: list[Outcome], duration_s: float, wall_s: float) -> dict[str, Any]:
    ok = [o for o in outcomes if not o.error]
    errors = Counter(o.error for o in outcomes if o.error)
    last_end_s = max((o.scheduled_s + o.latency_ms / 1000.0 for o in outcomes), default=0.0)
    gaps = [g for o in ok for g in o.chunk_gaps_ms]
    return {
        "requests": len(outcomes),
        "ok": len(ok),
        "errors": sum(errors.values()),
        "errors_by_kind": dict(sorted(errors.items())),
        "offered_rate_rps": round(len(outcomes) / duration_s, 3) if duration_s else 0.0,
        # Answers per second over the time from the first departure to the last answer.
        "achieved_rate_rps": round(len(ok) / last_end_s, 3) if last_end_s else 0.0,
        "wall_s": round(wall_s, 3),
        "ttft_ms": spread([o.ttft_ms for o in ok]),
        "latency_ms": spread([o.latency_ms for o in ok]),
        "chunk_gap_ms": spread(gaps),
        "chunks_per_request": spread([float(o.chunks) for o in ok]),
        # The generator's own lateness: if this grows, the figures above include it.
        "dispatch_lag_ms": spread([o.lag_ms for o in outcomes]),
    }
