"""Proto messages <-> the gateway's own dataclasses, in this one place."""

from __future__ import annotations

import math

from gateway.endpoints import EndpointsChange, EndpointSpec, ServiceSpec
from gateway.traffic import Interval, Summary
from sdk.pb.aiwo.v1 import gateway_pb2


def change_from_proto(update: gateway_pb2.EndpointsUpdate) -> EndpointsChange:
    return EndpointsChange(
        snapshot=update.snapshot,
        services=tuple(
            ServiceSpec(
                namespace=s.namespace,
                name=s.name,
                endpoints=tuple(EndpointSpec(e.replica, e.address) for e in s.endpoints),
                max_replicas=s.max_replicas,
            )
            for s in update.services
        ),
    )


def _summary(summary: Summary) -> gateway_pb2.LatencySummary:
    def finite(value: float) -> float:
        return value if math.isfinite(value) and value >= 0.0 else 0.0

    return gateway_pb2.LatencySummary(
        count=summary.count,
        sum_ms=finite(summary.sum_ms),
        p50_ms=finite(summary.p50_ms),
        p99_ms=finite(summary.p99_ms),
        max_ms=finite(summary.max_ms),
    )


def report_to_proto(gateway: str, interval: Interval) -> gateway_pb2.TrafficReport:
    return gateway_pb2.TrafficReport(
        gateway=gateway,
        time_unix=interval.end_s,
        interval_s=interval.length_s,
        services=[
            gateway_pb2.ServiceTraffic(
                namespace=s.namespace,
                name=s.name,
                arrivals=s.arrivals,
                completed=s.completed,
                errors=s.errors,
                rejected=s.rejected,
                in_flight=s.in_flight,
                queued=s.queued,
                ttft=_summary(s.ttft),
                chunk_gap=_summary(s.chunk_gap),
                latency=_summary(s.latency),
                replicas=[
                    gateway_pb2.ReplicaTraffic(
                        replica=r.replica,
                        in_flight=r.in_flight,
                        completed=r.completed,
                        errors=r.errors,
                        draining=r.draining,
                    )
                    for r in s.replicas
                ],
            )
            for s in interval.services
        ],
    )
