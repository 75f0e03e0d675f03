"""Per-interval traffic aggregates: the numbers behind one TrafficReport.

Pure: events in (arrival, first byte, chunk gap, completion, rejection), one summary out per
interval (`flush`). Gauges (in flight, held) are read from the routing table and the hold
queue at flush time and passed in. Latency summaries keep count, sum and max exactly and the
percentiles from a bounded sample (`SAMPLE_CAP` per summary and interval, reservoir-sampled
past that), so memory stays bounded at any request rate.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from gateway.endpoints import ServiceKey

# Samples kept per latency summary and interval; beyond it p50/p99 come from a uniform
# reservoir of this size (exact count/sum/max regardless).
SAMPLE_CAP = 4096


@dataclass(frozen=True)
class Summary:
    count: int = 0
    sum_ms: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of an ascending list; 0 for an empty one."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class LatencyAccumulator:
    def __init__(self, rng: random.Random, cap: int = SAMPLE_CAP) -> None:
        self._rng = rng
        self._cap = cap
        self.count = 0
        self.sum_ms = 0.0
        self.max_ms = 0.0
        self._samples: list[float] = []

    def add(self, value_ms: float) -> None:
        self.count += 1
        self.sum_ms += value_ms
        self.max_ms = max(self.max_ms, value_ms)
        if len(self._samples) < self._cap:
            self._samples.append(value_ms)
        else:
            slot = self._rng.randrange(self.count)
            if slot < self._cap:
                self._samples[slot] = value_ms

    def summary(self) -> Summary:
        ordered = sorted(self._samples)
        return Summary(
            count=self.count,
            sum_ms=self.sum_ms,
            p50_ms=percentile(ordered, 0.50),
            p99_ms=percentile(ordered, 0.99),
            max_ms=self.max_ms,
        )


@dataclass(frozen=True)
class ReplicaGauge:
    replica: str
    in_flight: int
    draining: bool = False  # out of the endpoints, finishing (or just finished) its requests


@dataclass(frozen=True)
class ServiceGauge:
    """What the table and the hold queue say at the end of the interval."""

    in_flight: int
    queued: int
    replicas: tuple[ReplicaGauge, ...]


@dataclass(frozen=True)
class ReplicaTotals:
    replica: str
    in_flight: int
    completed: int
    errors: int
    draining: bool = False


@dataclass(frozen=True)
class ServiceTotals:
    namespace: str
    name: str
    arrivals: int
    completed: int
    errors: int
    rejected: int
    in_flight: int
    queued: int
    ttft: Summary
    chunk_gap: Summary
    latency: Summary
    replicas: tuple[ReplicaTotals, ...]


@dataclass(frozen=True)
class Interval:
    end_s: float  # wall-clock (Unix) end of the interval
    length_s: float
    services: tuple[ServiceTotals, ...]


@dataclass
class _ReplicaCounts:
    completed: int = 0
    errors: int = 0


@dataclass
class _ServiceCounts:
    ttft: LatencyAccumulator
    chunk_gap: LatencyAccumulator
    latency: LatencyAccumulator
    arrivals: int = 0
    completed: int = 0
    errors: int = 0
    rejected: int = 0
    replicas: dict[str, _ReplicaCounts] = field(default_factory=dict)


class TrafficAggregator:
    def __init__(self, start_s: float, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._start_s = start_s
        self._counts: dict[ServiceKey, _ServiceCounts] = {}

    def _service(self, key: ServiceKey) -> _ServiceCounts:
        counts = self._counts.get(key)
        if counts is None:
            counts = _ServiceCounts(
                LatencyAccumulator(self._rng),
                LatencyAccumulator(self._rng),
                LatencyAccumulator(self._rng),
            )
            self._counts[key] = counts
        return counts

    def arrival(self, key: ServiceKey) -> None:
        self._service(key).arrivals += 1

    def rejected(self, key: ServiceKey) -> None:
        self._service(key).rejected += 1

    def first_byte(self, key: ServiceKey, ttft_ms: float) -> None:
        self._service(key).ttft.add(ttft_ms)

    def chunk_gap(self, key: ServiceKey, gap_ms: float) -> None:
        self._service(key).chunk_gap.add(gap_ms)

    def completed(self, key: ServiceKey, replica: str, latency_ms: float, error: bool) -> None:
        """One forwarded request ended: answered (`error` for a 5xx) or broken (error)."""
        counts = self._service(key)
        per_replica = counts.replicas.setdefault(replica, _ReplicaCounts())
        if error:
            counts.errors += 1
            per_replica.errors += 1
        else:
            counts.completed += 1
            per_replica.completed += 1
            counts.latency.add(latency_ms)

    def replica_refused(self, key: ServiceKey, replica: str) -> None:
        """A replica refused the connection and the request went on to another one: an
        error of that replica, not of the request (which is counted once, where it ends)."""
        counts = self._service(key)
        counts.replicas.setdefault(replica, _ReplicaCounts()).errors += 1

    def failed_unrouted(self, key: ServiceKey) -> None:
        """A request that failed with no replica left to blame (all refused it)."""
        self._service(key).errors += 1

    def flush(self, now_s: float, gauges: dict[ServiceKey, ServiceGauge]) -> Interval:
        """Close the interval at `now_s`. Every service with a gauge or an event is listed."""
        services: list[ServiceTotals] = []
        for key in sorted(set(gauges) | set(self._counts)):
            counts = self._counts.get(key)
            gauge = gauges.get(key, ServiceGauge(0, 0, ()))
            services.append(_totals(key, counts, gauge, self._rng))
        interval = Interval(now_s, max(0.0, now_s - self._start_s), tuple(services))
        self._start_s = now_s
        self._counts = {}
        return interval


def _totals(
    key: ServiceKey, counts: _ServiceCounts | None, gauge: ServiceGauge, rng: random.Random
) -> ServiceTotals:
    if counts is None:
        counts = _ServiceCounts(
            LatencyAccumulator(rng), LatencyAccumulator(rng), LatencyAccumulator(rng)
        )
    gauges = {g.replica: g for g in gauge.replicas}
    names = sorted(set(gauges) | set(counts.replicas))
    replicas = tuple(
        ReplicaTotals(
            replica=name,
            in_flight=gauges[name].in_flight if name in gauges else 0,
            completed=counts.replicas.get(name, _ReplicaCounts()).completed,
            errors=counts.replicas.get(name, _ReplicaCounts()).errors,
            # A replica with events but no gauge was forgotten earlier: drained.
            draining=gauges[name].draining if name in gauges else True,
        )
        for name in names
    )
    return ServiceTotals(
        namespace=key[0],
        name=key[1],
        arrivals=counts.arrivals,
        completed=counts.completed,
        errors=counts.errors,
        rejected=counts.rejected,
        in_flight=gauge.in_flight,
        queued=gauge.queued,
        ttft=counts.ttft.summary(),
        chunk_gap=counts.chunk_gap.summary(),
        latency=counts.latency.summary(),
        replicas=replicas,
    )
