"""The SDK's public value types: frozen dataclasses mirroring the aiwo.v1 messages.

Field names are the API message's snake_case field names on purpose: `dataclasses.asdict`
of any of these gives the same keys as the wire message, which is what `aiwo ... -o json`
prints. Enums are `StrEnum`s whose values are the short lowercase form of the proto name
(`NODE_STATE_NOT_READY` -> "not_ready"). Times are unix seconds (`*_unix`), sizes carry
their unit in the name. Conversion to and from the generated messages lives in `_convert`
only; nothing here knows about protobuf.

Sequence fields accept any sequence and are stored as tuples, mapping fields as dicts, so
`Resources(gpu_models=["H100"])` type-checks, and compares equal to the tuple form.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any


def _freeze(obj: Any) -> None:
    """Store sequence fields as tuples and mapping fields as dicts, whatever was passed.

    Field types are strings here (postponed annotations), which is all this needs.
    """
    for f in fields(obj):
        value = getattr(obj, f.name)
        if str(f.type).startswith("Sequence[") and not isinstance(value, tuple):
            object.__setattr__(obj, f.name, tuple(value))
        elif str(f.type).startswith("Mapping[") and not isinstance(value, dict):
            object.__setattr__(obj, f.name, dict(value))


class _Frozen:
    """Base of the frozen dataclasses with sequence or mapping fields: `_freeze` on init."""

    def __post_init__(self) -> None:
        _freeze(self)


# ---------------------------------------------------------------- enums


class NodeState(enum.StrEnum):
    UNSPECIFIED = "unspecified"
    READY = "ready"
    NOT_READY = "not_ready"


class GpuBackendStatus(enum.StrEnum):
    UNSPECIFIED = "unspecified"
    OK = "ok"
    LIBRARY_MISSING = "library_missing"
    PERMISSION_DENIED = "permission_denied"
    NO_DEVICES = "no_devices"
    DEGRADED = "degraded"
    ERROR = "error"


class RestartPolicy(enum.StrEnum):
    UNSPECIFIED = "unspecified"
    NEVER = "never"
    ON_FAILURE = "on_failure"


class WorkloadPhase(enum.StrEnum):
    UNSPECIFIED = "unspecified"
    PENDING = "pending"
    PLACED = "placed"
    RUNNING = "running"
    UNSCHEDULABLE = "unschedulable"
    PREEMPTED = "preempted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_placed(self) -> bool:
        return self in (WorkloadPhase.PLACED, WorkloadPhase.RUNNING)


class DirectiveKind(enum.StrEnum):
    UNSPECIFIED = "unspecified"
    PLACEMENT = "placement"
    THROTTLE = "throttle"
    UNTHROTTLE = "unthrottle"
    SWITCH_VARIANT = "switch_variant"
    CHECKPOINT = "checkpoint"
    PREEMPT = "preempt"
    MIGRATE = "migrate"


# ---------------------------------------------------------------- nodes and GPUs


@dataclass(frozen=True)
class GpuBackend:
    kind: str = ""  # "nvml" or "sim"
    status: GpuBackendStatus = GpuBackendStatus.UNSPECIFIED
    detail: str = ""
    driver_version: str = ""


@dataclass(frozen=True)
class GpuInfo(_Frozen):
    index: int = 0
    uuid: str = ""
    model: str = ""
    memory_total_mib: int = 0
    power_limit_min_w: float = 0.0
    power_limit_max_w: float = 0.0
    power_limit_default_w: float = 0.0
    idle_power_w: float = 0.0
    max_sm_clock_mhz: int = 0
    nvlink_peers: Sequence[int] = ()


@dataclass(frozen=True)
class NodeInfo(_Frozen):
    """What an agent reported about its machine when it registered."""

    name: str = ""
    address: str = ""
    cpu_milli: int = 0
    memory_mib: int = 0
    gpus: Sequence[GpuInfo] = ()
    gpu_backend: GpuBackend = field(default_factory=GpuBackend)
    capabilities: Sequence[str] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    agent_version: str = ""


@dataclass(frozen=True)
class Node:
    """A node as the controller reports it."""

    name: str
    state: NodeState = NodeState.UNSPECIFIED
    cordoned: bool = False
    gpu_count: int = 0
    gpu_model: str = ""
    last_heartbeat_unix: float = 0.0
    registered_unix: float = 0.0
    reason: str = ""  # why NotReady or cordoned
    info: NodeInfo = field(default_factory=NodeInfo)
    workloads: int = 0
    gpu_milli_allocated: int = 0
    unhealthy_gpus: Mapping[int, str] = field(default_factory=dict)  # GPU index -> why


@dataclass(frozen=True)
class Gpu(_Frozen):
    """One GPU with its latest telemetry (zeros until the first sample)."""

    node: str
    index: int
    model: str = ""
    uuid: str = ""
    memory_total_mib: int = 0
    memory_used_mib: int = 0
    utilization_pct: float = 0.0
    power_w: float = 0.0
    power_limit_w: float = 0.0
    temperature_c: float = 0.0
    sm_clock_mhz: int = 0
    milli_allocated: int = 0  # milli-GPU shares placed here, 0..1000
    workloads: Sequence[str] = ()  # "namespace/name"
    sample_unix: float = 0.0
    throttle_reasons: int = 0  # NVML clocks-throttle-reason bitmask
    ecc_uncorrected: int = 0
    unhealthy: bool = False  # a fatal XID or new uncorrected ECC errors (docs/health.md)
    health_reason: str = ""
    throttles: Sequence[str] = ()  # thermal / power-brake throttles in force


# ---------------------------------------------------------------- workloads


@dataclass(frozen=True)
class Resources(_Frozen):
    """What a workload needs.

    `gpus` whole GPUs; or `gpus=1, milli_gpu=250` for a quarter of one GPU
    (`milli_gpu=0` means whole GPUs). `gpu_memory_mib` is per GPU; an empty
    `gpu_models` accepts any model.
    """

    gpus: int = 0
    milli_gpu: int = 0
    gpu_memory_mib: int = 0
    gpu_models: Sequence[str] = ()
    cpu_milli: int = 0
    memory_mib: int = 0


@dataclass(frozen=True)
class SloHints:
    """Service-level hints; 0 means "none" for each."""

    p99_latency_ms: float = 0.0
    throughput_target: float = 0.0  # requests or samples per second
    deadline_unix: float = 0.0  # batch work: finish before
    ttft_ms: float = 0.0  # serving: time to first token (or byte), p99
    tpot_ms: float = 0.0  # serving: mean time per output token (gap between chunks)


@dataclass(frozen=True)
class ModelVariant:
    """A cheaper (or better) way to run the same service, e.g. an int8 build."""

    name: str
    resources: Resources = field(default_factory=Resources)
    latency_factor: float = 1.0  # expected latency relative to the default variant
    accuracy_cost: float = 0.0  # expected accuracy loss, 0..1


@dataclass(frozen=True)
class LaunchSpec(_Frozen):
    """For workloads the node agent starts itself."""

    command: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str = ""
    restart_policy: RestartPolicy = RestartPolicy.UNSPECIFIED
    # A service replica: the agent gives it a free port (AIWO_PORT) and GETs health_path
    # ("" = /healthz) on it until 200. Services set these; see `make_service_spec`.
    serve: bool = False
    health_path: str = ""


@dataclass(frozen=True)
class WorkloadSpec(_Frozen):
    """The desired state of a workload. Build it with `Client.register(...)` keywords."""

    priority_class: str = ""  # e.g. "high"; wins over `priority` when set
    priority: int = 0  # 0..1000
    slo: SloHints = field(default_factory=SloHints)
    resources: Resources = field(default_factory=Resources)
    variants: Sequence[ModelVariant] = ()
    launch: LaunchSpec | None = None  # None: the application runs itself
    labels: Mapping[str, str] = field(default_factory=dict)
    service: str = ""  # replicas of one service are spread across nodes


@dataclass(frozen=True)
class Placement(_Frozen):
    """Where a workload runs: a node, GPU indices on it, and the share of each GPU."""

    node: str
    gpus: Sequence[int] = ()
    milli_gpu: int = 0
    variant: str = ""


@dataclass(frozen=True)
class Workload(_Frozen):
    """A workload as stored and reported by the controller."""

    name: str
    namespace: str = "default"
    uid: str = ""
    spec: WorkloadSpec = field(default_factory=WorkloadSpec)
    phase: WorkloadPhase = WorkloadPhase.UNSPECIFIED
    message: str = ""  # why it is in this phase
    node: str = ""
    gpus: Sequence[int] = ()
    milli_gpu: int = 0
    generation: int = 0
    created_unix: float = 0.0
    placed_unix: float = 0.0
    variant: str = ""
    priority: int = 0
    p99_latency_ms: float = 0.0  # rolling, from reported observations
    energy_j: float = 0.0
    slo_status: str = ""  # "slack", "breach", "hold", "unknown (...)"; "" = no SLO

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def placement(self) -> Placement | None:
        if not self.phase.is_placed or not self.node:
            return None
        return Placement(self.node, self.gpus, self.milli_gpu, self.variant)


# ---------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Event(_Frozen):
    """One decision or state change, with the reason people read."""

    id: str
    time_unix: float = 0.0
    kind: str = ""  # constant snake_case, e.g. "workload_placed"
    object: str = ""  # "workload/ns/name" or "node/name"
    message: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Directive(_Frozen):
    """An instruction from the controller to the application.

    Which fields matter depends on `kind`: `factor` for THROTTLE (fraction of normal load
    to keep, 0..1), `variant` for SWITCH_VARIANT, `node`/`gpus` for PLACEMENT and MIGRATE,
    `deadline_unix` for CHECKPOINT and PREEMPT.
    """

    id: str
    kind: DirectiveKind
    workload: str = ""  # "namespace/name"
    reason: str = ""
    factor: float = 0.0
    variant: str = ""
    node: str = ""
    gpus: Sequence[int] = ()
    deadline_unix: float = 0.0
    time_unix: float = 0.0
    milli_gpu: int = 0  # PLACEMENT / MIGRATE: share of each GPU


# ---------------------------------------------------------------- admin views


@dataclass(frozen=True)
class Candidate(_Frozen):
    node: str
    score: float = 0.0
    gpus: Sequence[int] = ()


@dataclass(frozen=True)
class ServiceExplanation:
    """`explain` of a service: why it has the replicas it has, as numbers. `reason` is the
    autoscaler's latest (else the last scale's), `blocked` what keeps it from the count it
    wants ("" = nothing), `targets` its SLO targets (the template's ttft_ms, tpot_ms,
    p99_latency_ms; 0 = none)."""

    name: str = ""
    namespace: str = ""
    replicas: int = 0  # not draining
    ready: int = 0
    desired: int = 0
    min_replicas: int = 0
    max_replicas: int = 0
    pinned: int | None = None  # None: autoscaled
    reason: str = ""
    blocked: str = ""
    targets: SloHints = field(default_factory=SloHints)
    deleting: bool = False
    replicas_failed: int = 0


@dataclass(frozen=True)
class Explanation(_Frozen):
    """Why a workload is (or is not) where it is; for a service (`service` set, `workload`
    empty), why it has the replicas it has."""

    workload: Workload
    summary: str = ""  # e.g. "0/12 nodes fit: 8 insufficient GPU memory, ..."
    nodes_total: int = 0
    nodes_feasible: int = 0
    rejections: Mapping[str, int] = field(default_factory=dict)  # reason -> nodes
    candidates: Sequence[Candidate] = ()  # best first
    events: Sequence[Event] = ()
    service: ServiceExplanation | None = None


@dataclass(frozen=True)
class Description(_Frozen):
    """`describe`: one node or one workload, with its GPUs and recent events."""

    node: Node | None = None
    workload: Workload | None = None
    gpus: Sequence[Gpu] = ()
    events: Sequence[Event] = ()


@dataclass(frozen=True)
class ClusterInfo:
    controller: str = ""
    version: str = ""
    epoch: int = 0
    leader: bool = False
    started_unix: float = 0.0
    etcd_endpoints: str = ""
