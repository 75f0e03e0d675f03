"""Rolling latency percentiles per workload, from the observations apps report.

A fixed-size numpy ring per workload (the newest observations win); the p99 is taken over
the observations inside the window. A workload that stops reporting has no p99: it is
neither meeting nor breaking its SLO, and `stale` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RING = 4096


@dataclass(frozen=True, slots=True)
class SloStatus:
    p99_latency_ms: float | None  # None = no recent observations
    observations: int
    last_report_unix: float
    stale: bool
    throughput_per_s: float
    queue_depth: int
    throttle_factor: float | None = None  # the cooperative throttle the app says it holds


class _Ring:
    __slots__ = (
        "count", "last_report", "latencies", "queue_depth", "throttle", "throughput", "times",
    )  # fmt: skip

    def __init__(self) -> None:
        self.latencies = np.zeros(RING, dtype=np.float64)
        self.times = np.zeros(RING, dtype=np.float64)
        self.count = 0
        self.last_report = 0.0
        self.throughput = 0.0
        self.queue_depth = 0
        self.throttle: float | None = None


class SloTracker:
    def __init__(self, window_s: float = 60.0, stale_after_s: float = 10.0) -> None:
        self.window_s = window_s
        self.stale_after_s = stale_after_s
        self._rings: dict[str, _Ring] = {}

    def observe(
        self,
        workload: str,
        now: float,
        latencies_ms: list[float] | np.ndarray,
        throughput_per_s: float = 0.0,
        queue_depth: int = 0,
        throttle_factor: float | None = None,
    ) -> None:
        ring = self._rings.setdefault(workload, _Ring())
        values = np.asarray(latencies_ms, dtype=np.float64)[-RING:]
        n = len(values)
        if n:
            slots = (np.arange(ring.count, ring.count + n)) % RING
            ring.latencies[slots] = values
            ring.times[slots] = now
            ring.count += n
        ring.last_report = now
        ring.throughput = throughput_per_s
        ring.queue_depth = queue_depth
        ring.throttle = throttle_factor

    def status(self, workload: str, now: float) -> SloStatus | None:
        ring = self._rings.get(workload)
        if ring is None:
            return None
        n = min(ring.count, RING)
        times = ring.times[:n]
        recent = ring.latencies[:n][times >= now - self.window_s]
        stale = now - ring.last_report > self.stale_after_s
        p99 = float(np.percentile(recent, 99)) if len(recent) and not stale else None
        return SloStatus(
            p99,
            len(recent),
            ring.last_report,
            stale,
            ring.throughput,
            ring.queue_depth,
            ring.throttle,
        )

    def forget(self, workload: str) -> None:
        self._rings.pop(workload, None)
