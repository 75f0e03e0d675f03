"""A service's recent demand from the gateways' per-second reports (pure)."""

from __future__ import annotations

from controlplane.view.demand import demand_of
from controlplane.view.traffic import ServiceSample


def sample(gateway: str, t: float, **fields: float | int | None) -> ServiceSample:
    values: dict[str, object] = dict(
        seq=int(t * 10), gateway=gateway, received_unix=t, time_unix=t, interval_s=1.0,
        arrivals=10, completed=10, errors=0, rejected=0, in_flight=4, queued=0,
        ttft_p99_ms=100.0, chunk_gap_p99_ms=20.0, latency_p99_ms=900.0,
    )  # fmt: skip
    values.update(fields)
    return ServiceSample(**values)  # type: ignore[arg-type]


def test_nothing_reported_is_all_zeros() -> None:
    demand = demand_of([])
    assert (demand.window_s, demand.arrivals_per_s, demand.in_flight) == (0, 0, 0)


def test_two_gateways_over_the_same_seconds() -> None:
    samples = [
        sample("g1", 101, arrivals=8, in_flight=3),
        sample("g2", 101, arrivals=2, in_flight=9, ttft_p99_ms=None),  # nothing measured
        sample("g1", 102, arrivals=12, in_flight=5, ttft_p99_ms=250.0, errors=2),
        sample("g2", 102, arrivals=4, in_flight=1, queued=3),
    ]
    demand = demand_of(samples)
    assert demand.window_s == 2.0  # 100..102: the time, not the sum of the intervals
    assert demand.arrivals_per_s == (8 + 2 + 12 + 4) / 2
    assert (demand.in_flight, demand.queued) == (5 + 1, 3)  # each gateway's latest
    assert demand.ttft_p99_ms == 250.0 and demand.latency_p99_ms == 900.0
    assert demand.errors_per_s == 1.0
