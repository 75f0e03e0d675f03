"""Prometheus metrics, prefix `aiwo_`, bounded labels.

Per-GPU gauges are read from the telemetry ring buffers at scrape time by a collector,
so ingesting a sample never touches a metric object.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import grpc
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from controlplane.view.telemetry import FIELD_INDEX

if TYPE_CHECKING:
    from controlplane.view.cluster import ClusterState

MAX_WORKLOAD_SERIES = 2000
MAX_SERVICE_SERIES = 500  # services; each has at most 6 replica-state series
RATE_WINDOW_S = 10.0  # gateway traffic rates are averaged over this window at scrape time

RPC_LATENCY = Histogram(
    "aiwo_rpc_duration_seconds",
    "Latency of unary RPCs handled by the controller.",
    ["method", "code"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
STREAM_MESSAGES = Counter(
    "aiwo_stream_messages_total", "Messages received on streams.", ["stream", "kind"]
)
REPORTS = Counter(
    "aiwo_telemetry_reports_total",
    "Agent telemetry by outcome: accepted, invalid (stream ended), dropped (over the "
    "stream's budget), stream_refused (a stream not admitted: paced).",
    ["outcome"],
)
EVENTS = Counter("aiwo_events_total", "Decisions and other events, by kind.", ["kind"])
OPTIMIZE_LATENCY = Histogram(
    "aiwo_optimize_duration_seconds",
    "Time of one optimizer pass (snapshot, policy, commit).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
AUTOSCALE_LATENCY = Histogram(
    "aiwo_autoscale_duration_seconds",
    "Time of one autoscale pass (snapshot, room, plan_scale, commits) over every service.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
MIGRATION_DURATION = Histogram(
    "aiwo_migration_duration_seconds",
    "From a migration's request to its end; result running (moved) or failed (rolled back).",
    ["result"],
    buckets=(0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300),
)


# Per-GPU gauges: (metric, help, the telemetry field, scale to the metric's unit).
GPU_GAUGES = (
    ("aiwo_gpu_utilization_ratio", "GPU busy fraction (0-1).", "utilization_pct", 0.01),
    ("aiwo_gpu_memory_used_bytes", "GPU memory in use.", "memory_used_mib", 1024.0 * 1024),
    ("aiwo_gpu_power_watts", "GPU power draw.", "power_w", 1.0),
    ("aiwo_gpu_power_limit_watts", "Enforced GPU power limit.", "power_limit_w", 1.0),
    ("aiwo_gpu_temperature_celsius", "GPU temperature.", "temperature_c", 1.0),
)


class ClusterCollector(Collector):
    """Reads the controller's state at scrape time."""

    def __init__(self, state: ClusterState) -> None:
        self._state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from sdk.pb.aiwo.v1 import types_pb2

        gauges = [
            (GaugeMetricFamily(name, text, labels=["node", "gpu"]), FIELD_INDEX[field], scale)
            for name, text, field, scale in GPU_GAUGES
        ]
        for node, series in self._state.telemetry.nodes():
            newest = series.latest_row()
            if newest is None:
                continue
            # One tolist() per node: element-wise numpy reads cost ~100 ns each.
            for index, values in enumerate(newest[1].tolist()):
                if math.isnan(values[0]):
                    continue
                labels = [node, str(index)]
                for gauge, column, scale in gauges:
                    gauge.add_metric(labels, values[column] * scale)
        yield from (gauge for gauge, _, _ in gauges)

        nodes = GaugeMetricFamily("aiwo_nodes", "Nodes by state.", labels=["state"])
        counts: dict[str, int] = {}
        for record in self._state.nodes.values():
            name = types_pb2.NodeState.Name(record.state).removeprefix("NODE_STATE_").lower()
            counts[name] = counts.get(name, 0) + 1
        for name, count in counts.items():
            nodes.add_metric([name], count)
        yield nodes

        workloads = GaugeMetricFamily("aiwo_workloads", "Workloads by phase.", labels=["phase"])
        phases: dict[str, int] = {}
        for workload in self._state.workloads.values():
            name = types_pb2.WorkloadPhase.Name(workload.phase)
            name = name.removeprefix("WORKLOAD_PHASE_").lower()
            phases[name] = phases.get(name, 0) + 1
        for name, count in phases.items():
            workloads.add_metric([name], count)
        yield workloads

        energy = GaugeMetricFamily(
            "aiwo_workload_energy_joules",
            "GPU energy attributed to a workload since this leader started (shared GPUs split).",
            labels=["namespace", "workload"],
        )
        # Bounded by the number of workloads, which registration limits; not by churn.
        for key, joules in sorted(self._state.energy_j.items())[:MAX_WORKLOAD_SERIES]:
            namespace, _, name = key.partition("/")
            energy.add_metric([namespace, name], joules)
        yield energy

        commands = GaugeMetricFamily("aiwo_commands_pending", "Commands not yet acked.")
        commands.add_metric([], len(self._state.commands))
        yield commands
        yield from self._services()

    def _services(self) -> Iterator[GaugeMetricFamily]:
        """Per service: replicas by state, desired, and the gateways' traffic. Bounded by
        MAX_SERVICE_SERIES services and the six replica states."""
        from sdk.pb.aiwo.v1 import serving_pb2

        labels = ["namespace", "service"]
        replicas = GaugeMetricFamily(
            "aiwo_service_replicas", "Replicas by state.", labels=[*labels, "state"]
        )
        desired = GaugeMetricFamily(
            "aiwo_service_desired_replicas", "What the autoscaler (or a pin) wants.", labels=labels
        )
        failed = GaugeMetricFamily(
            "aiwo_service_replicas_failed",
            "Replicas replaced because they were not ready in time or ended, since creation.",
            labels=labels,
        )
        arrivals = GaugeMetricFamily(
            "aiwo_service_arrivals_per_second",
            f"Requests arriving at the gateways, over the last {RATE_WINDOW_S:g} s.",
            labels=labels,
        )
        in_flight = GaugeMetricFamily(
            "aiwo_service_in_flight", "Requests in flight at the gateways (latest).", labels=labels
        )
        queued = GaugeMetricFamily(
            "aiwo_service_queued",
            "Requests held at the gateways for want of a ready replica (latest).",
            labels=labels,
        )
        now = time.time()
        states = [
            (value, serving_pb2.ReplicaState.Name(value).removeprefix("REPLICA_STATE_").lower())
            for value in serving_pb2.ReplicaState.values()
            if value != serving_pb2.REPLICA_STATE_UNSPECIFIED
        ]
        for key, service in sorted(self._state.services.items())[:MAX_SERVICE_SERIES]:
            namespace, _, name = key.partition("/")
            for value, state_name in states:
                count = sum(1 for r in service.replicas if r.state == value)
                replicas.add_metric([namespace, name, state_name], count)
            desired.add_metric([namespace, name], service.desired)
            failed.add_metric([namespace, name], service.replicas_failed)
            recent = self._state.traffic.recent(key, now, RATE_WINDOW_S)
            arrivals.add_metric([namespace, name], sum(s.arrivals for s in recent) / RATE_WINDOW_S)
            latest: dict[str, tuple[int, int]] = {}
            for sample in recent:  # the newest report of each gateway
                latest[sample.gateway] = (sample.in_flight, sample.queued)
            in_flight.add_metric([namespace, name], sum(v[0] for v in latest.values()))
            queued.add_metric([namespace, name], sum(v[1] for v in latest.values()))
        yield from (replicas, desired, failed, arrivals, in_flight, queued)


def register_collector(state: ClusterState) -> Callable[[], None]:
    collector = ClusterCollector(state)
    REGISTRY.register(collector)
    return lambda: REGISTRY.unregister(collector)


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Times unary RPCs by method and status code."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        inner = handler.unary_unary

        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            code = "OK"
            try:
                return await inner(request, context)
            except BaseException:
                code = "ERROR"
                raise
            finally:
                status = context.code() if hasattr(context, "code") else None
                if status is not None and status != grpc.StatusCode.OK:
                    code = status.name
                RPC_LATENCY.labels(method=method, code=code).observe(time.perf_counter() - start)

        return grpc.unary_unary_rpc_method_handler(
            timed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
