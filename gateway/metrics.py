"""Prometheus metrics of one gateway: `aiwo_gateway_*`, labels with a fixed set of values.

No service or replica label: their number is the cluster's, not bounded here; per-service
figures go to the controller in the traffic reports instead.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OUTCOMES = (
    "ok",  # answered by a replica, 1xx-4xx
    "replica_error",  # the replica answered 5xx
    "bad_gateway",  # the replica's connection broke (502, or a cut stream)
    "timeout",  # the replica went silent past the read timeout (504)
    "client_closed",  # the client went away first
    "not_found",  # 404: bad path or unknown service
    "too_large",  # 413
    "unavailable",  # 503: held past the timeout, or the hold queue full
)

_LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "aiwo_gateway_requests", "Requests by outcome.", ["outcome"], registry=r
        )
        for outcome in OUTCOMES:
            self.requests.labels(outcome)
        self.in_flight = Gauge(
            "aiwo_gateway_in_flight", "Requests forwarded and not yet answered.", registry=r
        )
        self.held = Gauge(
            "aiwo_gateway_held", "Requests held for a service with no ready replica.", registry=r
        )
        self.ttft = Histogram(
            "aiwo_gateway_ttft_seconds",
            "Request start to first response byte.",
            buckets=_LATENCY_BUCKETS_S,
            registry=r,
        )
        self.latency = Histogram(
            "aiwo_gateway_request_seconds",
            "Request start to last response byte.",
            buckets=_LATENCY_BUCKETS_S,
            registry=r,
        )
        self.services = Gauge("aiwo_gateway_services", "Services known.", registry=r)
        self.replicas = Gauge("aiwo_gateway_replicas", "Replicas by state.", ["state"], registry=r)
        self.ejections = Counter(
            "aiwo_gateway_ejections", "Replicas taken out after a broken connection.", registry=r
        )
        self.controller_connected = Gauge(
            "aiwo_gateway_controller_connected",
            "1 while the endpoints watch is open.",
            registry=r,
        )
        self.reports_sent = Gauge(
            "aiwo_gateway_reports_sent", "Traffic reports handed to the stream.", registry=r
        )
        self.reports_dropped = Gauge(
            "aiwo_gateway_reports_dropped",
            "Traffic reports dropped while the controller was away.",
            registry=r,
        )
