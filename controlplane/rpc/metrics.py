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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controlplane.view.telemetry import FIELD_INDEX

if TYPE_CHECKING:
    from controlplane.view.cluster import ClusterState

MAX_WORKLOAD_SERIES = 2000
MAX_SERVICE_SERIES = 500  # services; each has at most 6 replica-state series
RATE_WINDOW_S = 10.0  # gateway traffic rates are averaged over this window at scrape time

RPC_LATENCY = Histogram(
    "aiwo_rpc_duration_seconds",
    "Latency of unary RPCs handled by the controller (health checks not counted).",
    ["service", "method", "code"],
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


# Every per-GPU series: node and index, plus uuid and model, so that dcgm-exporter's series
# (labels UUID, modelName, Hostname, gpu) join on uuid (docs/metrics.md).
GPU_LABELS = ["node", "gpu", "uuid", "model"]

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

    def collect(self) -> Iterator[Metric]:
        from sdk.pb.aiwo.v1 import types_pb2

        gauges = [
            (GaugeMetricFamily(name, text, labels=GPU_LABELS), FIELD_INDEX[field], scale)
            for name, text, field, scale in GPU_GAUGES
        ]
        identity = self._gpu_identity()
        for node, series in self._state.telemetry.nodes():
            newest = series.latest_row()
            if newest is None:
                continue
            known = identity.get(node, {})
            # One tolist() per node: element-wise numpy reads cost ~100 ns each.
            for index, values in enumerate(newest[1].tolist()):
                if math.isnan(values[0]):
                    continue
                labels = [node, str(index), *known.get(index, ("", ""))]
                for gauge, column, scale in gauges:
                    gauge.add_metric(labels, values[column] * scale)
        yield from (gauge for gauge, _, _ in gauges)
        yield from self._gpu_inventory(identity)

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

        # A counter: it only grows while this leader attributes energy; a new leader starts
        # it again from 0, which rate() reads as a counter reset, as Prometheus expects.
        energy = CounterMetricFamily(
            "aiwo_workload_energy_joules",
            "GPU energy attributed to a workload since this leader started (shared GPUs split).",
            labels=["namespace", "workload"],
        )
        # Bounded by the number of workloads, which registration limits; not by churn.
        for key, joules in sorted(self._state.energy_j.items())[:MAX_WORKLOAD_SERIES]:
            namespace, _, name = key.partition("/")
            energy.add_metric([namespace, name], joules)
        yield energy
        yield from self._workloads()

        commands = GaugeMetricFamily("aiwo_commands_pending", "Commands not yet acked.")
        commands.add_metric([], len(self._state.commands))
        yield commands
        yield from self._services()

    def _gpu_identity(self) -> dict[str, dict[int, tuple[str, str]]]:
        """node -> GPU index -> (uuid, model), from the node records (the inventory)."""
        return {
            name: {gpu.index: (gpu.uuid, gpu.model) for gpu in record.info.gpus}
            for name, record in self._state.nodes.items()
        }

    def _gpu_inventory(
        self, identity: dict[str, dict[int, tuple[str, str]]]
    ) -> Iterator[GaugeMetricFamily]:
        """Per GPU: memory total, the share placed on it (0-1) and health, from the inventory
        and placements (present before the first sample)."""
        total = GaugeMetricFamily(
            "aiwo_gpu_memory_total_bytes", "GPU memory installed.", labels=GPU_LABELS
        )
        allocated = GaugeMetricFamily(
            "aiwo_gpu_allocated_ratio",
            "Share of the GPU placed with workloads (milli-GPU / 1000; 1 = whole GPU).",
            labels=GPU_LABELS,
        )
        healthy = GaugeMetricFamily(
            "aiwo_gpu_healthy",
            "1 = healthy, 0 = marked unhealthy (docs/health.md).",
            labels=GPU_LABELS,
        )
        milli: dict[tuple[str, int], int] = {}
        for placement in self._state.placements.values():
            for index in placement.gpus:
                key = (placement.node, index)
                milli[key] = milli.get(key, 0) + placement.milli_gpu
        for name, record in self._state.nodes.items():
            for gpu in record.info.gpus:
                labels = [name, str(gpu.index), *identity[name][gpu.index]]
                total.add_metric(labels, gpu.memory_total_mib * 1024.0 * 1024)
                allocated.add_metric(labels, min(milli.get((name, gpu.index), 0), 1000) / 1000)
                healthy.add_metric(labels, 0.0 if gpu.index in record.unhealthy_gpus else 1.0)
        yield from (total, allocated, healthy)

    def _workloads(self) -> Iterator[GaugeMetricFamily]:
        """Per workload (at most MAX_WORKLOAD_SERIES): rolling p99, SLO state, placement."""
        labels = ["namespace", "workload"]
        p99 = GaugeMetricFamily(
            "aiwo_workload_p99_latency_seconds",
            "Rolling p99 of the latencies the workload reports (absent: none fresh).",
            labels=labels,
        )
        slo = GaugeMetricFamily(
            "aiwo_workload_slo_status",
            "1 for the workload's SLO state now (meeting, breach, hold, unknown).",
            labels=[*labels, "status"],
        )
        placed = GaugeMetricFamily(
            "aiwo_workload_placed_gpus",
            "GPUs a workload holds on its node (milli-GPU / 1000 per GPU).",
            labels=[*labels, "node"],
        )
        keys = sorted(key for key, _ in self._state.workloads.items())[:MAX_WORKLOAD_SERIES]
        now = time.time()
        for key in keys:
            namespace, _, name = key.partition("/")
            view = self._state.workload_view(key)
            if view is None:
                continue
            latency = self._state.slo.status(key, now)
            if latency is not None and latency.p99_latency_ms is not None:
                p99.add_metric([namespace, name], latency.p99_latency_ms / 1000)
            if view.slo_status:
                state = view.slo_status.split(" ", 1)[0]  # "unknown (stale)" -> "unknown"
                slo.add_metric([namespace, name, state], 1.0)
            placement = self._state.placements.get(key)
            if placement is not None:
                share = len(placement.gpus) * placement.milli_gpu / 1000
                placed.add_metric([namespace, name, placement.node], share)
        yield from (p99, slo, placed)

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
        # "/aiwo.v1.WorkloadService/Register" -> service WorkloadService, method Register.
        path, _, method = handler_call_details.method.rpartition("/")
        service = path.rsplit(".", 1)[-1]
        if service == "Health":  # grpc.health.v1: probes, not traffic
            return handler
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
                RPC_LATENCY.labels(service=service, method=method, code=code).observe(
                    time.perf_counter() - start
                )

        return grpc.unary_unary_rpc_method_handler(
            timed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
