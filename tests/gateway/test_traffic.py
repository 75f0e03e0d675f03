"""The per-interval aggregator as tables: counts add up, summaries are sane, memory bounded."""

from __future__ import annotations

import random

import pytest

from gateway.traffic import (
    LatencyAccumulator,
    ReplicaGauge,
    ServiceGauge,
    TrafficAggregator,
    percentile,
)

SVC = ("default", "chat")


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 0.5, 0.0),
        ([5.0], 0.99, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),
        ([float(i) for i in range(1, 101)], 0.99, 99.0),
        ([float(i) for i in range(1, 101)], 0.5, 50.0),
        ([float(i) for i in range(1, 1001)], 0.99, 990.0),
    ],
)
def test_percentile_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == expected


def test_interval_counts_and_summaries() -> None:
    agg = TrafficAggregator(start_s=100.0, rng=random.Random(1))
    for i in range(10):
        agg.arrival(SVC)
        agg.first_byte(SVC, 10.0 + i)
    for i in range(8):
        agg.completed(SVC, "r-0" if i % 2 else "r-1", 100.0 + i, error=False)
    agg.completed(SVC, "r-0", 50.0, error=True)
    agg.rejected(SVC)
    agg.chunk_gap(SVC, 3.0)
    gauge = ServiceGauge(
        in_flight=1,
        queued=2,
        replicas=(ReplicaGauge("r-0", 0), ReplicaGauge("r-1", 0), ReplicaGauge("r-2", 1, True)),
    )
    interval = agg.flush(101.0, {SVC: gauge})
    assert interval.length_s == 1.0 and interval.end_s == 101.0
    [s] = interval.services
    assert (s.arrivals, s.completed, s.errors, s.rejected) == (10, 8, 1, 1)
    assert (s.in_flight, s.queued) == (1, 2)
    assert s.latency.count == 8 and s.latency.sum_ms == sum(100.0 + i for i in range(8))
    assert s.latency.p50_ms == 103.0 and s.latency.p99_ms == 107.0 == s.latency.max_ms
    assert s.ttft.count == 10 and s.ttft.max_ms == 19.0
    assert s.chunk_gap.count == 1 and s.chunk_gap.p50_ms == 3.0
    by_name = {r.replica: r for r in s.replicas}
    assert (by_name["r-0"].completed, by_name["r-0"].errors) == (4, 1)
    assert (by_name["r-1"].completed, by_name["r-1"].errors) == (4, 0)
    assert (by_name["r-2"].in_flight, by_name["r-2"].completed) == (1, 0)
    assert [r.replica for r in s.replicas if r.draining] == ["r-2"]
    # The next interval starts empty; a service with only a gauge is still listed.
    nxt = agg.flush(102.0, {SVC: ServiceGauge(0, 0, ())})
    assert [(s.arrivals, s.latency.count) for s in nxt.services] == [(0, 0)]
    assert agg.flush(103.0, {}).services == ()


def test_refused_connection_is_a_replica_error_not_a_request_error() -> None:
    agg = TrafficAggregator(0.0, random.Random(1))
    agg.arrival(SVC)
    agg.replica_refused(SVC, "dead")
    agg.completed(SVC, "alive", 5.0, error=False)
    [s] = agg.flush(1.0, {}).services
    assert (s.completed, s.errors) == (1, 0)
    assert {r.replica: r.errors for r in s.replicas} == {"alive": 0, "dead": 1}


def test_reservoir_keeps_memory_bounded_and_percentiles_close() -> None:
    acc = LatencyAccumulator(random.Random(3), cap=500)
    for i in range(20_000):
        acc.add(float(i % 1000))
    summary = acc.summary()
    assert summary.count == 20_000 and summary.max_ms == 999.0
    assert summary.sum_ms == sum(float(i % 1000) for i in range(20_000))
    assert 400.0 <= summary.p50_ms <= 600.0 and summary.p99_ms >= 950.0
    assert len(acc._samples) == 500
