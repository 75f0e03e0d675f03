"""A service's recent demand, as the gateways measured it: what `aiwo top` and
`aiwo describe service` show next to the replica count (ServiceDemand, never stored)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from controlplane.view.traffic import ServiceSample
from sdk.pb.aiwo.v1 import serving_pb2

DEMAND_WINDOW_S = 10.0


def demand_of(samples: Sequence[ServiceSample]) -> serving_pb2.ServiceDemand:
    """Rates over the span the samples cover; in flight and queued from each gateway's latest
    report, summed; the worst per-interval p99 of the window (a conservative view)."""
    if not samples:
        return serving_pb2.ServiceDemand()
    start = min(s.time_unix - s.interval_s for s in samples)
    end = max(s.time_unix for s in samples)
    # Several gateways cover the same seconds: the span is the time, not the sum of intervals.
    window_s = max(end - start, max(s.interval_s for s in samples), 1e-9)
    latest: dict[str, ServiceSample] = {}
    for sample in samples:
        if sample.gateway not in latest or sample.time_unix >= latest[sample.gateway].time_unix:
            latest[sample.gateway] = sample
    return serving_pb2.ServiceDemand(
        window_s=window_s,
        arrivals_per_s=sum(s.arrivals for s in samples) / window_s,
        in_flight=sum(s.in_flight for s in latest.values()),
        queued=sum(s.queued for s in latest.values()),
        ttft_p99_ms=_worst(s.ttft_p99_ms for s in samples),
        chunk_gap_p99_ms=_worst(s.chunk_gap_p99_ms for s in samples),
        latency_p99_ms=_worst(s.latency_p99_ms for s in samples),
        errors_per_s=sum(s.errors for s in samples) / window_s,
    )


def _worst(values: Iterable[float | None]) -> float:
    """The largest measured value (None: nothing measured in that interval); 0 if none."""
    return max((v for v in values if v is not None), default=0.0)
