"""Request validation. Every RPC checks its fields here before anything changes.

A failure raises `ValidationError(field, problem)`; the service turns it into
INVALID_ARGUMENT with a message naming the field, e.g. "spec.resources.milli_gpu: ...".
"""

from __future__ import annotations

import math
import re

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from sdk._priority import DEFAULT_PRIORITY_CLASS
from sdk._priority import PRIORITY_CLASSES as SDK_PRIORITY_CLASSES
from sdk.pb.aiwo.v1 import gateway_pb2, node_pb2, serving_pb2, types_pb2, workload_pb2

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

# One table for the whole product: the SDK's (the controller imports wire-side code from sdk).
PRIORITY_CLASSES: dict[str, int] = dict(SDK_PRIORITY_CLASSES)
DEFAULT_PRIORITY = PRIORITY_CLASSES[DEFAULT_PRIORITY_CLASS]

MAX_GPUS_PER_WORKLOAD = 64
MAX_GPUS_PER_NODE = 64
MAX_VARIANTS = 16
MAX_ARGS = 256
MAX_ARG_CHARS = 4096
MAX_MAP_ENTRIES = 64
MAX_LABEL_CHARS = 253
MAX_LATENCIES_PER_REPORT = 10_000
MAX_LATENCY_MS = 3_600_000.0  # an hour: anything above is a unit mistake
MAX_RATE = 1e9
MAX_SPEC_BYTES = 256 * 1024
MAX_EVENT_MESSAGE_CHARS = 1024  # what an agent or application may put into the decision log
# What the agent's supervisor reports (nodeagent/supervisor.py EventKind). A closed set:
# the kind becomes an event kind and a metric label.
PROCESS_EVENT_KINDS = frozenset(
    {"started", "exited", "restarted", "start_failed", "ready", "unready"}
)
MAX_GPU_POWER_W = 100_000.0  # a GPU board draws at most a few kW: above is a unit mistake


class ValidationError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def check_name(field: str, value: str) -> None:
    if not value:
        raise ValidationError(field, "is required")
    if len(value) > 63:
        raise ValidationError(field, f"must be at most 63 characters, got {len(value)}")
    if not NAME_RE.match(value):
        raise ValidationError(
            field, f"must be lowercase letters, digits and '-' (not at the ends), got {value!r}"
        )


def _check_range(field: str, value: float, low: float, high: float) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(field, f"must be a finite number, got {value}")
    if not low <= value <= high:
        raise ValidationError(
            field, f"must be between {_number(low)} and {_number(high)}, got {_number(value)}"
        )


def _number(value: float) -> str:
    """Integers as integers ("16777216", not "1.67772e+07"); other numbers compactly."""
    if float(value).is_integer() and abs(value) < 1e18:
        return str(int(value))
    return f"{value:g}"


def _check_map(field: str, entries: dict[str, str], max_entries: int = MAX_MAP_ENTRIES) -> None:
    if len(entries) > max_entries:
        raise ValidationError(field, f"at most {max_entries} entries, got {len(entries)}")
    for key, value in entries.items():
        if not key or len(key) > MAX_LABEL_CHARS or len(value) > MAX_ARG_CHARS:
            raise ValidationError(f"{field}[{key[:40]!r}]", "key or value empty or too long")


def _check_enum(field: str, value: int, enum: EnumTypeWrapper) -> None:
    # proto3 enums are open: a number the schema does not know arrives as it is, and
    # code that names it (Enum.Name) would raise deep inside a handler.
    if value not in enum.values():
        raise ValidationError(field, f"unknown value {value}")


def _check_text(field: str, value: str, max_chars: int) -> None:
    if len(value) > max_chars:
        raise ValidationError(field, f"at most {max_chars} characters, got {len(value)}")


def check_resources(field: str, res: types_pb2.Resources) -> None:
    _check_range(f"{field}.gpus", res.gpus, 0, MAX_GPUS_PER_WORKLOAD)
    _check_range(f"{field}.milli_gpu", res.milli_gpu, 0, 1000)
    if 0 < res.milli_gpu < 1000 and res.gpus != 1:
        raise ValidationError(f"{field}.milli_gpu", "a share of a GPU (< 1000) needs gpus = 1")
    if res.gpus == 0 and res.milli_gpu not in (0, 1000):
        raise ValidationError(f"{field}.milli_gpu", "a GPU share needs gpus = 1")
    _check_range(f"{field}.gpu_memory_mib", res.gpu_memory_mib, 0, 16 * 1024 * 1024)
    if res.gpu_memory_mib and res.gpus == 0:
        raise ValidationError(f"{field}.gpu_memory_mib", "GPU memory needs gpus >= 1")
    _check_range(f"{field}.cpu_milli", res.cpu_milli, 0, 10_000_000)
    _check_range(f"{field}.memory_mib", res.memory_mib, 0, 1 << 34)
    if len(res.gpu_models) > 32:
        raise ValidationError(f"{field}.gpu_models", "at most 32 models")
    for i, model in enumerate(res.gpu_models):
        if not model or len(model) > 64:
            raise ValidationError(f"{field}.gpu_models[{i}]", "must be 1-64 characters")


def clip(text: str, max_chars: int = MAX_EVENT_MESSAGE_CHARS) -> str:
    """Text a peer sent, cut to size for logs, events and error messages."""
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def resolve_priority(spec: types_pb2.WorkloadSpec) -> int:
    """The integer priority of a spec: its class if named, else its integer, else normal."""
    _check_text("spec.priority_class", spec.priority_class, 63)
    if spec.priority_class:
        try:
            return PRIORITY_CLASSES[spec.priority_class]
        except KeyError:
            known = ", ".join(PRIORITY_CLASSES)
            raise ValidationError(
                "spec.priority_class", f"unknown class {spec.priority_class!r} (known: {known})"
            ) from None
    return spec.priority if spec.priority else DEFAULT_PRIORITY


def check_workload_spec(spec: types_pb2.WorkloadSpec) -> None:
    # Every field has its own limit, but together they could pass etcd's request limit
    # (1.5 MiB by default): the write would fail after validation said yes.
    if spec.ByteSize() > MAX_SPEC_BYTES:
        raise ValidationError(
            "spec", f"at most {MAX_SPEC_BYTES} bytes serialized, got {spec.ByteSize()}"
        )
    _check_range("spec.priority", spec.priority, 0, 1000)
    resolve_priority(spec)
    check_resources("spec.resources", spec.resources)
    slo = spec.slo
    _check_range("spec.slo.p99_latency_ms", slo.p99_latency_ms, 0, MAX_LATENCY_MS)
    _check_range("spec.slo.throughput_target", slo.throughput_target, 0, MAX_RATE)
    _check_range("spec.slo.deadline_unix", slo.deadline_unix, 0, 1e11)
    _check_range("spec.slo.ttft_ms", slo.ttft_ms, 0, MAX_LATENCY_MS)
    _check_range("spec.slo.tpot_ms", slo.tpot_ms, 0, MAX_LATENCY_MS)
    if len(spec.variants) > MAX_VARIANTS:
        raise ValidationError("spec.variants", f"at most {MAX_VARIANTS} variants")
    seen: set[str] = set()
    for i, variant in enumerate(spec.variants):
        field = f"spec.variants[{i}]"
        check_name(f"{field}.name", variant.name)
        if variant.name in seen:
            raise ValidationError(f"{field}.name", f"duplicate variant {variant.name!r}")
        seen.add(variant.name)
        check_resources(f"{field}.resources", variant.resources)
        _check_range(f"{field}.latency_factor", variant.latency_factor, 0, 1000)
        _check_range(f"{field}.accuracy_cost", variant.accuracy_cost, 0, 1)
    launch = spec.launch
    if len(launch.command) > MAX_ARGS:
        raise ValidationError("spec.launch.command", f"at most {MAX_ARGS} arguments")
    for i, arg in enumerate(launch.command):
        if len(arg) > MAX_ARG_CHARS or "\x00" in arg:
            raise ValidationError(f"spec.launch.command[{i}]", "too long or contains NUL")
    _check_enum("spec.launch.restart_policy", launch.restart_policy, types_pb2.RestartPolicy)
    if launch.command and not launch.command[0]:
        raise ValidationError("spec.launch.command[0]", "the executable is empty")
    if (launch.env or launch.working_dir) and not launch.command:
        raise ValidationError("spec.launch.command", "is required when env or working_dir is set")
    _check_map("spec.launch.env", dict(launch.env), max_entries=256)
    if len(launch.working_dir) > MAX_ARG_CHARS:
        raise ValidationError("spec.launch.working_dir", "too long")
    _check_map("spec.labels", dict(spec.labels))
    if spec.service:
        check_name("spec.service", spec.service)


def check_workload_ref(name: str, namespace: str) -> None:
    check_name("name", name)
    check_name("namespace", namespace)


MAX_PAGE_SIZE = 5000


def check_page(page_size: int, page_token: str) -> None:
    """A list page: its size, and a token that is a previous reply's (a workload key)."""
    if not 0 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationError("page_size", f"must be 0..{MAX_PAGE_SIZE}, got {page_size}")
    if page_token:
        namespace, sep, name = page_token.partition("/")
        if not sep or not NAME_RE.match(namespace) or not NAME_RE.match(name):
            raise ValidationError("page_token", "not a token from a previous reply")


def check_register_workload(req: workload_pb2.RegisterWorkloadRequest) -> None:
    check_workload_ref(req.name, req.namespace)
    check_workload_spec(req.spec)


def check_node_info(info: types_pb2.NodeInfo) -> None:
    check_name("node.name", info.name)
    _check_range("node.cpu_milli", info.cpu_milli, 0, 100_000_000)
    _check_range("node.memory_mib", info.memory_mib, 0, 1 << 40)
    if len(info.gpus) > MAX_GPUS_PER_NODE:
        raise ValidationError("node.gpus", f"at most {MAX_GPUS_PER_NODE} GPUs")
    indices = [gpu.index for gpu in info.gpus]
    if sorted(indices) != list(range(len(indices))):
        raise ValidationError("node.gpus", "indices must be 0..n-1, each once")
    for gpu in info.gpus:
        field = f"node.gpus[{gpu.index}]"
        if not gpu.model or len(gpu.model) > 64:
            raise ValidationError(f"{field}.model", "must be 1-64 characters")
        _check_text(f"{field}.uuid", gpu.uuid, 128)
        _check_range(f"{field}.memory_total_mib", gpu.memory_total_mib, 0, 16 * 1024 * 1024)
        # -1: the agent could not read it (nodeagent.gpu.base.UNAVAILABLE).
        for name in (
            "power_limit_min_w",
            "power_limit_max_w",
            "power_limit_default_w",
            "idle_power_w",
        ):
            _check_range(f"{field}.{name}", getattr(gpu, name), -1, MAX_GPU_POWER_W)
        _check_range(f"{field}.max_sm_clock_mhz", gpu.max_sm_clock_mhz, -1, 100_000)
        for peer in gpu.nvlink_peers:
            if not 0 <= peer < len(info.gpus) or peer == gpu.index:
                raise ValidationError(f"{field}.nvlink_peers", f"bad peer index {peer}")
    _check_map("node.labels", dict(info.labels))
    if len(info.capabilities) > 64:
        raise ValidationError("node.capabilities", "at most 64 entries")
    for i, capability in enumerate(info.capabilities):
        if not capability or len(capability) > 64:
            raise ValidationError(f"node.capabilities[{i}]", "must be 1-64 characters")
    _check_text("node.address", info.address, MAX_LABEL_CHARS)
    _check_text("node.agent_version", info.agent_version, 64)
    check_gpu_backend("node.gpu_backend", info.gpu_backend)


def check_gpu_backend(field: str, backend: types_pb2.GpuBackend) -> None:
    _check_enum(f"{field}.status", backend.status, types_pb2.GpuBackendStatus)
    _check_text(f"{field}.kind", backend.kind, 32)
    _check_text(f"{field}.detail", backend.detail, 1024)
    _check_text(f"{field}.driver_version", backend.driver_version, 64)


def check_register_node(req: node_pb2.RegisterNodeRequest) -> None:
    if not req.HasField("node"):
        raise ValidationError("node", "is required")
    check_node_info(req.node)


def check_metrics(report: workload_pb2.MetricsReport) -> None:
    if len(report.latency_ms) > MAX_LATENCIES_PER_REPORT:
        raise ValidationError(
            "metrics.latency_ms", f"at most {MAX_LATENCIES_PER_REPORT} observations per report"
        )
    for i, value in enumerate(report.latency_ms):
        if not math.isfinite(value) or not 0 <= value <= MAX_LATENCY_MS:
            raise ValidationError(
                f"metrics.latency_ms[{i}]", f"must be within 0..{MAX_LATENCY_MS:g} ms, got {value}"
            )
    _check_range("metrics.throughput_per_s", report.throughput_per_s, 0, MAX_RATE)
    _check_range("metrics.queue_depth", report.queue_depth, 0, 100_000_000)
    if report.HasField("throttle_factor"):
        _check_range("metrics.throttle_factor", report.throttle_factor, 0, 1)


def check_telemetry(report: node_pb2.TelemetryReport, gpu_count: int) -> None:
    if len(report.gpus) > MAX_GPUS_PER_NODE or len(report.nets) > 256:
        raise ValidationError("telemetry", "too many samples")
    _check_range("telemetry.time_unix", report.time_unix, 0, 1e11)
    seen: set[int] = set()
    for sample in report.gpus:
        if not 0 <= sample.index < gpu_count:
            raise ValidationError("telemetry.gpus.index", f"no GPU {sample.index} on this node")
        if sample.index in seen:
            raise ValidationError("telemetry.gpus.index", f"GPU {sample.index} twice")
        seen.add(sample.index)
        for name in ("utilization_pct", "power_w", "power_limit_w", "temperature_c"):
            value = getattr(sample, name)
            if not math.isfinite(value) or value < -300 or value > 1e6:
                raise ValidationError(f"telemetry.gpus[{sample.index}].{name}", "out of range")
        field = f"telemetry.gpus[{sample.index}]"
        _check_range(f"{field}.memory_used_mib", sample.memory_used_mib, -1, 16 * 1024 * 1024)
        _check_range(f"{field}.sm_clock_mhz", sample.sm_clock_mhz, -1, 100_000)
        if len(sample.xid_events) > 64:
            raise ValidationError(f"{field}.xid_events", "at most 64 per sample")
    if len(report.throttles) > 4096:
        raise ValidationError("telemetry.throttles", "at most 4096")
    for i, throttle in enumerate(report.throttles):
        if not throttle.workload or len(throttle.workload) > 254:
            raise ValidationError(f"telemetry.throttles[{i}].workload", "must be 1-254 characters")
        _check_range(f"telemetry.throttles[{i}].cpu_fraction", throttle.cpu_fraction, 0, 1)
    locked: set[int] = set()
    for i, lock in enumerate(report.clock_locks):
        field = f"telemetry.clock_locks[{i}]"
        if not 0 <= lock.gpu_index < gpu_count:
            raise ValidationError(f"{field}.gpu_index", f"no GPU {lock.gpu_index} on this node")
        if lock.gpu_index in locked:
            raise ValidationError(f"{field}.gpu_index", f"GPU {lock.gpu_index} twice")
        locked.add(lock.gpu_index)
        _check_range(f"{field}.min_mhz", lock.min_mhz, 1, 100_000)
        _check_range(f"{field}.max_mhz", lock.max_mhz, lock.min_mhz, 100_000)
    for i, net in enumerate(report.nets):
        field = f"telemetry.nets[{i}]"
        if not net.interface or len(net.interface) > 64:
            raise ValidationError(f"{field}.interface", "must be 1-64 characters")
        for name in ("rx_bytes_per_s", "tx_bytes_per_s", "rx_packets_per_s", "tx_packets_per_s"):
            _check_range(f"{field}.{name}", getattr(net, name), 0, 1e13)
    if report.HasField("gpu_backend"):
        check_gpu_backend("telemetry.gpu_backend", report.gpu_backend)


def check_agent_hello(hello: node_pb2.AgentHello) -> None:
    check_name("hello.node", hello.node)
    _check_text("hello.session_id", hello.session_id, 64)


def check_process_event(event: node_pb2.ProcessEvent) -> None:
    if event.kind not in PROCESS_EVENT_KINDS:
        known = ", ".join(sorted(PROCESS_EVENT_KINDS))
        raise ValidationError(
            "process_event.kind", f"unknown kind {clip(event.kind, 40)!r} (known: {known})"
        )
    namespace, _, name = event.workload.partition("/")
    try:
        check_workload_ref(name, namespace)
    except ValidationError as exc:
        raise ValidationError("process_event.workload", f"{exc.field} {exc.problem}") from None
    _check_range("process_event.port", event.port, 0, 65535)
    _check_text("process_event.signal", event.signal, 32)
    _check_text("process_event.detail", event.detail, MAX_EVENT_MESSAGE_CHARS)


# ---------------------------------------------------------------- services (docs/serving.md)

MAX_REPLICAS = 64  # per service: the spread filter and the endpoint fan-out stay small
# A replica is the workload "{service}-{index}"; indices stay below 1000, so a service name
# leaves room for "-" and three digits within a workload name's 63 characters.
MAX_SERVICE_NAME_CHARS = 59
MAX_LOAD_TIMEOUT_S = 86_400.0
MAX_DRAIN_GRACE_S = 3_600.0
MAX_HEALTH_PATH_CHARS = 1024
RESERVED_REPLICA_ENV = frozenset({"AIWO_PORT", "AIWO_REPLICA"})  # set by aiwo per replica


def check_service_ref(name: str, namespace: str) -> None:
    check_name("name", name)
    if len(name) > MAX_SERVICE_NAME_CHARS:
        raise ValidationError(
            "name",
            f"a service name is at most {MAX_SERVICE_NAME_CHARS} characters (its replicas are "
            f"named NAME-INDEX), got {len(name)}",
        )
    check_name("namespace", namespace)


def check_health_path(field: str, path: str) -> None:
    if not path:
        return
    if not path.startswith("/") or len(path) > MAX_HEALTH_PATH_CHARS:
        raise ValidationError(
            field, f"must start with '/' and be at most {MAX_HEALTH_PATH_CHARS} characters"
        )
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        raise ValidationError(field, "must not contain spaces or control characters")


def check_service_spec(name: str, spec: serving_pb2.ServiceSpec) -> None:
    _check_range("spec.max_replicas", spec.max_replicas, 1, MAX_REPLICAS)
    _check_range("spec.min_replicas", spec.min_replicas, 0, MAX_REPLICAS)
    if spec.min_replicas > spec.max_replicas:
        raise ValidationError(
            "spec.min_replicas",
            f"must be at most spec.max_replicas ({spec.max_replicas}), got {spec.min_replicas}",
        )
    _check_range("spec.load_timeout_s", spec.load_timeout_s, 0, MAX_LOAD_TIMEOUT_S)
    _check_range("spec.drain_grace_s", spec.drain_grace_s, 0, MAX_DRAIN_GRACE_S)
    check_health_path("spec.health_path", spec.health_path)
    if not spec.HasField("template"):
        raise ValidationError("spec.template", "is required (each replica's resources and launch)")
    template = spec.template
    try:
        check_workload_spec(template)
    except ValidationError as exc:  # name the field where the caller put it
        field = "spec.template" + exc.field.removeprefix("spec")
        raise ValidationError(field, exc.problem) from None
    if not template.launch.command:
        raise ValidationError(
            "spec.template.launch.command", "is required: each replica is a process the agent runs"
        )
    check_health_path("spec.template.launch.health_path", template.launch.health_path)
    for key in sorted(RESERVED_REPLICA_ENV & set(template.launch.env)):
        raise ValidationError(
            f"spec.template.launch.env[{key!r}]", "is set by aiwo for each replica"
        )
    if template.service and template.service != name:
        raise ValidationError(
            "spec.template.service", f"must be empty or the service's name {name!r}"
        )


def check_create_service(req: serving_pb2.CreateServiceRequest) -> None:
    check_service_ref(req.name, req.namespace)
    if not req.HasField("spec"):
        raise ValidationError("spec", "is required")
    check_service_spec(req.name, req.spec)


SERVICE_TARGETS = ("ttft_ms", "tpot_ms", "p99_latency_ms")  # UpdateService's SLO fields
SERVICE_UPDATES = ("min_replicas", "max_replicas", *SERVICE_TARGETS)


def check_update_service(req: serving_pb2.UpdateServiceRequest) -> None:
    """Each field on its own; rpc/service_update.updated_service_spec checks them against the
    stored spec."""
    check_service_ref(req.name, req.namespace)
    if not any(req.HasField(name) for name in SERVICE_UPDATES):
        raise ValidationError(
            "update", f"nothing to change: set at least one of {', '.join(SERVICE_UPDATES)}"
        )
    if req.HasField("min_replicas"):
        _check_range("min_replicas", req.min_replicas, 0, MAX_REPLICAS)
    if req.HasField("max_replicas"):
        _check_range("max_replicas", req.max_replicas, 1, MAX_REPLICAS)
    for name in SERVICE_TARGETS:
        if req.HasField(name):
            _check_range(name, getattr(req, name), 0, MAX_LATENCY_MS)
    if req.expected_generation < 0:
        raise ValidationError("expected_generation", f"must be >= 0, got {req.expected_generation}")


MAX_GATEWAY_NAME_CHARS = 128
MAX_SERVICES_PER_REPORT = 10_000
MAX_REPLICAS_PER_REPORT = 4 * MAX_REPLICAS  # draining ones included
MAX_REPORT_INTERVAL_S = 60.0
MAX_IN_FLIGHT = 100_000_000


def _check_latency(field: str, summary: gateway_pb2.LatencySummary) -> None:
    for name in ("sum_ms", "p50_ms", "p99_ms", "max_ms"):
        value = getattr(summary, name)
        if not math.isfinite(value) or value < 0:
            raise ValidationError(f"{field}.{name}", f"must be a finite number >= 0, got {value}")
    for name in ("p50_ms", "p99_ms", "max_ms"):
        _check_range(f"{field}.{name}", getattr(summary, name), 0, MAX_LATENCY_MS)
    if summary.sum_ms > summary.count * MAX_LATENCY_MS:
        raise ValidationError(f"{field}.sum_ms", "larger than count x the longest latency allowed")


def check_traffic_report(report: gateway_pb2.TrafficReport) -> None:
    """Like the SDK's metrics: a number that cannot be true is refused, never stored."""
    if not report.gateway or len(report.gateway) > MAX_GATEWAY_NAME_CHARS:
        raise ValidationError("report.gateway", f"must be 1-{MAX_GATEWAY_NAME_CHARS} characters")
    _check_range("report.time_unix", report.time_unix, 0, 1e11)
    if not math.isfinite(report.interval_s) or not 0 < report.interval_s <= MAX_REPORT_INTERVAL_S:
        raise ValidationError(
            "report.interval_s",
            f"must be within (0, {MAX_REPORT_INTERVAL_S:g}] seconds, got {report.interval_s}",
        )
    if len(report.services) > MAX_SERVICES_PER_REPORT:
        raise ValidationError("report.services", f"at most {MAX_SERVICES_PER_REPORT} per report")
    for i, traffic in enumerate(report.services):
        field = f"report.services[{i}]"
        try:
            check_name("namespace", traffic.namespace)
            check_name("name", traffic.name)
        except ValidationError as exc:
            raise ValidationError(f"{field}.{exc.field}", exc.problem) from None
        _check_range(f"{field}.in_flight", traffic.in_flight, 0, MAX_IN_FLIGHT)
        _check_range(f"{field}.queued", traffic.queued, 0, MAX_IN_FLIGHT)
        if traffic.completed > traffic.arrivals + MAX_IN_FLIGHT:
            raise ValidationError(f"{field}.completed", "more than could have arrived")
        for name in ("ttft", "chunk_gap", "latency"):
            _check_latency(f"{field}.{name}", getattr(traffic, name))
        if len(traffic.replicas) > MAX_REPLICAS_PER_REPORT:
            raise ValidationError(f"{field}.replicas", f"at most {MAX_REPLICAS_PER_REPORT}")
        for j, replica in enumerate(traffic.replicas):
            rfield = f"{field}.replicas[{j}]"
            check_name(f"{rfield}.replica", replica.replica)
            _check_range(f"{rfield}.in_flight", replica.in_flight, 0, MAX_IN_FLIGHT)
