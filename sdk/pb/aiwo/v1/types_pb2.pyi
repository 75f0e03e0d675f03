from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATE_UNSPECIFIED: _ClassVar[NodeState]
    NODE_STATE_READY: _ClassVar[NodeState]
    NODE_STATE_NOT_READY: _ClassVar[NodeState]

class GpuBackendStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GPU_BACKEND_STATUS_UNSPECIFIED: _ClassVar[GpuBackendStatus]
    GPU_BACKEND_STATUS_OK: _ClassVar[GpuBackendStatus]
    GPU_BACKEND_STATUS_LIBRARY_MISSING: _ClassVar[GpuBackendStatus]
    GPU_BACKEND_STATUS_PERMISSION_DENIED: _ClassVar[GpuBackendStatus]
    GPU_BACKEND_STATUS_NO_DEVICES: _ClassVar[GpuBackendStatus]
    GPU_BACKEND_STATUS_DEGRADED: _ClassVar[GpuBackendStatus]
    GPU_BACKEND_STATUS_ERROR: _ClassVar[GpuBackendStatus]

class RestartPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESTART_POLICY_UNSPECIFIED: _ClassVar[RestartPolicy]
    RESTART_POLICY_NEVER: _ClassVar[RestartPolicy]
    RESTART_POLICY_ON_FAILURE: _ClassVar[RestartPolicy]

class WorkloadPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKLOAD_PHASE_UNSPECIFIED: _ClassVar[WorkloadPhase]
    WORKLOAD_PHASE_PENDING: _ClassVar[WorkloadPhase]
    WORKLOAD_PHASE_PLACED: _ClassVar[WorkloadPhase]
    WORKLOAD_PHASE_RUNNING: _ClassVar[WorkloadPhase]
    WORKLOAD_PHASE_UNSCHEDULABLE: _ClassVar[WorkloadPhase]
    WORKLOAD_PHASE_PREEMPTED: _ClassVar[WorkloadPhase]
    WORKLOAD_PHASE_SUCCEEDED: _ClassVar[WorkloadPhase]
    WORKLOAD_PHASE_FAILED: _ClassVar[WorkloadPhase]

class DirectiveKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIRECTIVE_KIND_UNSPECIFIED: _ClassVar[DirectiveKind]
    DIRECTIVE_KIND_PLACEMENT: _ClassVar[DirectiveKind]
    DIRECTIVE_KIND_THROTTLE: _ClassVar[DirectiveKind]
    DIRECTIVE_KIND_UNTHROTTLE: _ClassVar[DirectiveKind]
    DIRECTIVE_KIND_SWITCH_VARIANT: _ClassVar[DirectiveKind]
    DIRECTIVE_KIND_CHECKPOINT: _ClassVar[DirectiveKind]
    DIRECTIVE_KIND_PREEMPT: _ClassVar[DirectiveKind]
    DIRECTIVE_KIND_MIGRATE: _ClassVar[DirectiveKind]
NODE_STATE_UNSPECIFIED: NodeState
NODE_STATE_READY: NodeState
NODE_STATE_NOT_READY: NodeState
GPU_BACKEND_STATUS_UNSPECIFIED: GpuBackendStatus
GPU_BACKEND_STATUS_OK: GpuBackendStatus
GPU_BACKEND_STATUS_LIBRARY_MISSING: GpuBackendStatus
GPU_BACKEND_STATUS_PERMISSION_DENIED: GpuBackendStatus
GPU_BACKEND_STATUS_NO_DEVICES: GpuBackendStatus
GPU_BACKEND_STATUS_DEGRADED: GpuBackendStatus
GPU_BACKEND_STATUS_ERROR: GpuBackendStatus
RESTART_POLICY_UNSPECIFIED: RestartPolicy
RESTART_POLICY_NEVER: RestartPolicy
RESTART_POLICY_ON_FAILURE: RestartPolicy
WORKLOAD_PHASE_UNSPECIFIED: WorkloadPhase
WORKLOAD_PHASE_PENDING: WorkloadPhase
WORKLOAD_PHASE_PLACED: WorkloadPhase
WORKLOAD_PHASE_RUNNING: WorkloadPhase
WORKLOAD_PHASE_UNSCHEDULABLE: WorkloadPhase
WORKLOAD_PHASE_PREEMPTED: WorkloadPhase
WORKLOAD_PHASE_SUCCEEDED: WorkloadPhase
WORKLOAD_PHASE_FAILED: WorkloadPhase
DIRECTIVE_KIND_UNSPECIFIED: DirectiveKind
DIRECTIVE_KIND_PLACEMENT: DirectiveKind
DIRECTIVE_KIND_THROTTLE: DirectiveKind
DIRECTIVE_KIND_UNTHROTTLE: DirectiveKind
DIRECTIVE_KIND_SWITCH_VARIANT: DirectiveKind
DIRECTIVE_KIND_CHECKPOINT: DirectiveKind
DIRECTIVE_KIND_PREEMPT: DirectiveKind
DIRECTIVE_KIND_MIGRATE: DirectiveKind

class GpuBackend(_message.Message):
    __slots__ = ("kind", "status", "detail", "driver_version")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    DRIVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    kind: str
    status: GpuBackendStatus
    detail: str
    driver_version: str
    def __init__(self, kind: _Optional[str] = ..., status: _Optional[_Union[GpuBackendStatus, str]] = ..., detail: _Optional[str] = ..., driver_version: _Optional[str] = ...) -> None: ...

class GpuInfo(_message.Message):
    __slots__ = ("index", "uuid", "model", "memory_total_mib", "power_limit_min_w", "power_limit_max_w", "power_limit_default_w", "idle_power_w", "max_sm_clock_mhz", "nvlink_peers")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_MIB_FIELD_NUMBER: _ClassVar[int]
    POWER_LIMIT_MIN_W_FIELD_NUMBER: _ClassVar[int]
    POWER_LIMIT_MAX_W_FIELD_NUMBER: _ClassVar[int]
    POWER_LIMIT_DEFAULT_W_FIELD_NUMBER: _ClassVar[int]
    IDLE_POWER_W_FIELD_NUMBER: _ClassVar[int]
    MAX_SM_CLOCK_MHZ_FIELD_NUMBER: _ClassVar[int]
    NVLINK_PEERS_FIELD_NUMBER: _ClassVar[int]
    index: int
    uuid: str
    model: str
    memory_total_mib: int
    power_limit_min_w: float
    power_limit_max_w: float
    power_limit_default_w: float
    idle_power_w: float
    max_sm_clock_mhz: int
    nvlink_peers: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, index: _Optional[int] = ..., uuid: _Optional[str] = ..., model: _Optional[str] = ..., memory_total_mib: _Optional[int] = ..., power_limit_min_w: _Optional[float] = ..., power_limit_max_w: _Optional[float] = ..., power_limit_default_w: _Optional[float] = ..., idle_power_w: _Optional[float] = ..., max_sm_clock_mhz: _Optional[int] = ..., nvlink_peers: _Optional[_Iterable[int]] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("name", "address", "cpu_milli", "memory_mib", "gpus", "gpu_backend", "capabilities", "labels", "agent_version")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CPU_MILLI_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    GPU_BACKEND_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    cpu_milli: int
    memory_mib: int
    gpus: _containers.RepeatedCompositeFieldContainer[GpuInfo]
    gpu_backend: GpuBackend
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    agent_version: str
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., cpu_milli: _Optional[int] = ..., memory_mib: _Optional[int] = ..., gpus: _Optional[_Iterable[_Union[GpuInfo, _Mapping]]] = ..., gpu_backend: _Optional[_Union[GpuBackend, _Mapping]] = ..., capabilities: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., agent_version: _Optional[str] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("name", "state", "cordoned", "gpu_count", "gpu_model", "last_heartbeat_unix", "registered_unix", "reason", "info", "workloads", "gpu_milli_allocated", "unhealthy_gpus")
    class UnhealthyGpusEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: str
        def __init__(self, key: _Optional[int] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CORDONED_FIELD_NUMBER: _ClassVar[int]
    GPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    GPU_MODEL_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_UNIX_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_UNIX_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    WORKLOADS_FIELD_NUMBER: _ClassVar[int]
    GPU_MILLI_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    UNHEALTHY_GPUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: NodeState
    cordoned: bool
    gpu_count: int
    gpu_model: str
    last_heartbeat_unix: float
    registered_unix: float
    reason: str
    info: NodeInfo
    workloads: int
    gpu_milli_allocated: int
    unhealthy_gpus: _containers.ScalarMap[int, str]
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[NodeState, str]] = ..., cordoned: _Optional[bool] = ..., gpu_count: _Optional[int] = ..., gpu_model: _Optional[str] = ..., last_heartbeat_unix: _Optional[float] = ..., registered_unix: _Optional[float] = ..., reason: _Optional[str] = ..., info: _Optional[_Union[NodeInfo, _Mapping]] = ..., workloads: _Optional[int] = ..., gpu_milli_allocated: _Optional[int] = ..., unhealthy_gpus: _Optional[_Mapping[int, str]] = ...) -> None: ...

class Gpu(_message.Message):
    __slots__ = ("node", "index", "model", "uuid", "memory_total_mib", "memory_used_mib", "utilization_pct", "power_w", "power_limit_w", "temperature_c", "sm_clock_mhz", "milli_allocated", "workloads", "sample_unix", "throttle_reasons", "ecc_uncorrected", "unhealthy", "health_reason", "throttles")
    NODE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_MIB_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_MIB_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_PCT_FIELD_NUMBER: _ClassVar[int]
    POWER_W_FIELD_NUMBER: _ClassVar[int]
    POWER_LIMIT_W_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    SM_CLOCK_MHZ_FIELD_NUMBER: _ClassVar[int]
    MILLI_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    WORKLOADS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_UNIX_FIELD_NUMBER: _ClassVar[int]
    THROTTLE_REASONS_FIELD_NUMBER: _ClassVar[int]
    ECC_UNCORRECTED_FIELD_NUMBER: _ClassVar[int]
    UNHEALTHY_FIELD_NUMBER: _ClassVar[int]
    HEALTH_REASON_FIELD_NUMBER: _ClassVar[int]
    THROTTLES_FIELD_NUMBER: _ClassVar[int]
    node: str
    index: int
    model: str
    uuid: str
    memory_total_mib: int
    memory_used_mib: int
    utilization_pct: float
    power_w: float
    power_limit_w: float
    temperature_c: float
    sm_clock_mhz: int
    milli_allocated: int
    workloads: _containers.RepeatedScalarFieldContainer[str]
    sample_unix: float
    throttle_reasons: int
    ecc_uncorrected: int
    unhealthy: bool
    health_reason: str
    throttles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, node: _Optional[str] = ..., index: _Optional[int] = ..., model: _Optional[str] = ..., uuid: _Optional[str] = ..., memory_total_mib: _Optional[int] = ..., memory_used_mib: _Optional[int] = ..., utilization_pct: _Optional[float] = ..., power_w: _Optional[float] = ..., power_limit_w: _Optional[float] = ..., temperature_c: _Optional[float] = ..., sm_clock_mhz: _Optional[int] = ..., milli_allocated: _Optional[int] = ..., workloads: _Optional[_Iterable[str]] = ..., sample_unix: _Optional[float] = ..., throttle_reasons: _Optional[int] = ..., ecc_uncorrected: _Optional[int] = ..., unhealthy: _Optional[bool] = ..., health_reason: _Optional[str] = ..., throttles: _Optional[_Iterable[str]] = ...) -> None: ...

class GpuSample(_message.Message):
    __slots__ = ("index", "utilization_pct", "memory_used_mib", "power_w", "power_limit_w", "temperature_c", "sm_clock_mhz", "throttle_reasons", "ecc_uncorrected", "xid_events")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_PCT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_MIB_FIELD_NUMBER: _ClassVar[int]
    POWER_W_FIELD_NUMBER: _ClassVar[int]
    POWER_LIMIT_W_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    SM_CLOCK_MHZ_FIELD_NUMBER: _ClassVar[int]
    THROTTLE_REASONS_FIELD_NUMBER: _ClassVar[int]
    ECC_UNCORRECTED_FIELD_NUMBER: _ClassVar[int]
    XID_EVENTS_FIELD_NUMBER: _ClassVar[int]
    index: int
    utilization_pct: float
    memory_used_mib: int
    power_w: float
    power_limit_w: float
    temperature_c: float
    sm_clock_mhz: int
    throttle_reasons: int
    ecc_uncorrected: int
    xid_events: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, index: _Optional[int] = ..., utilization_pct: _Optional[float] = ..., memory_used_mib: _Optional[int] = ..., power_w: _Optional[float] = ..., power_limit_w: _Optional[float] = ..., temperature_c: _Optional[float] = ..., sm_clock_mhz: _Optional[int] = ..., throttle_reasons: _Optional[int] = ..., ecc_uncorrected: _Optional[int] = ..., xid_events: _Optional[_Iterable[int]] = ...) -> None: ...

class NetSample(_message.Message):
    __slots__ = ("interface", "rx_bytes_per_s", "tx_bytes_per_s", "rx_packets_per_s", "tx_packets_per_s", "rx_errors", "tx_errors", "rx_drops", "tx_drops")
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    RX_BYTES_PER_S_FIELD_NUMBER: _ClassVar[int]
    TX_BYTES_PER_S_FIELD_NUMBER: _ClassVar[int]
    RX_PACKETS_PER_S_FIELD_NUMBER: _ClassVar[int]
    TX_PACKETS_PER_S_FIELD_NUMBER: _ClassVar[int]
    RX_ERRORS_FIELD_NUMBER: _ClassVar[int]
    TX_ERRORS_FIELD_NUMBER: _ClassVar[int]
    RX_DROPS_FIELD_NUMBER: _ClassVar[int]
    TX_DROPS_FIELD_NUMBER: _ClassVar[int]
    interface: str
    rx_bytes_per_s: float
    tx_bytes_per_s: float
    rx_packets_per_s: float
    tx_packets_per_s: float
    rx_errors: int
    tx_errors: int
    rx_drops: int
    tx_drops: int
    def __init__(self, interface: _Optional[str] = ..., rx_bytes_per_s: _Optional[float] = ..., tx_bytes_per_s: _Optional[float] = ..., rx_packets_per_s: _Optional[float] = ..., tx_packets_per_s: _Optional[float] = ..., rx_errors: _Optional[int] = ..., tx_errors: _Optional[int] = ..., rx_drops: _Optional[int] = ..., tx_drops: _Optional[int] = ...) -> None: ...

class Resources(_message.Message):
    __slots__ = ("gpus", "milli_gpu", "gpu_memory_mib", "gpu_models", "cpu_milli", "memory_mib")
    GPUS_FIELD_NUMBER: _ClassVar[int]
    MILLI_GPU_FIELD_NUMBER: _ClassVar[int]
    GPU_MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    GPU_MODELS_FIELD_NUMBER: _ClassVar[int]
    CPU_MILLI_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    gpus: int
    milli_gpu: int
    gpu_memory_mib: int
    gpu_models: _containers.RepeatedScalarFieldContainer[str]
    cpu_milli: int
    memory_mib: int
    def __init__(self, gpus: _Optional[int] = ..., milli_gpu: _Optional[int] = ..., gpu_memory_mib: _Optional[int] = ..., gpu_models: _Optional[_Iterable[str]] = ..., cpu_milli: _Optional[int] = ..., memory_mib: _Optional[int] = ...) -> None: ...

class SloHints(_message.Message):
    __slots__ = ("p99_latency_ms", "throughput_target", "deadline_unix", "ttft_ms", "tpot_ms")
    P99_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    THROUGHPUT_TARGET_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_UNIX_FIELD_NUMBER: _ClassVar[int]
    TTFT_MS_FIELD_NUMBER: _ClassVar[int]
    TPOT_MS_FIELD_NUMBER: _ClassVar[int]
    p99_latency_ms: float
    throughput_target: float
    deadline_unix: float
    ttft_ms: float
    tpot_ms: float
    def __init__(self, p99_latency_ms: _Optional[float] = ..., throughput_target: _Optional[float] = ..., deadline_unix: _Optional[float] = ..., ttft_ms: _Optional[float] = ..., tpot_ms: _Optional[float] = ...) -> None: ...

class ModelVariant(_message.Message):
    __slots__ = ("name", "resources", "latency_factor", "accuracy_cost")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FACTOR_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_COST_FIELD_NUMBER: _ClassVar[int]
    name: str
    resources: Resources
    latency_factor: float
    accuracy_cost: float
    def __init__(self, name: _Optional[str] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., latency_factor: _Optional[float] = ..., accuracy_cost: _Optional[float] = ...) -> None: ...

class LaunchSpec(_message.Message):
    __slots__ = ("command", "env", "working_dir", "restart_policy", "serve", "health_path")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIR_FIELD_NUMBER: _ClassVar[int]
    RESTART_POLICY_FIELD_NUMBER: _ClassVar[int]
    SERVE_FIELD_NUMBER: _ClassVar[int]
    HEALTH_PATH_FIELD_NUMBER: _ClassVar[int]
    command: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    working_dir: str
    restart_policy: RestartPolicy
    serve: bool
    health_path: str
    def __init__(self, command: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., working_dir: _Optional[str] = ..., restart_policy: _Optional[_Union[RestartPolicy, str]] = ..., serve: _Optional[bool] = ..., health_path: _Optional[str] = ...) -> None: ...

class WorkloadSpec(_message.Message):
    __slots__ = ("priority_class", "priority", "slo", "resources", "variants", "launch", "labels", "service")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PRIORITY_CLASS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    SLO_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    VARIANTS_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    priority_class: str
    priority: int
    slo: SloHints
    resources: Resources
    variants: _containers.RepeatedCompositeFieldContainer[ModelVariant]
    launch: LaunchSpec
    labels: _containers.ScalarMap[str, str]
    service: str
    def __init__(self, priority_class: _Optional[str] = ..., priority: _Optional[int] = ..., slo: _Optional[_Union[SloHints, _Mapping]] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., variants: _Optional[_Iterable[_Union[ModelVariant, _Mapping]]] = ..., launch: _Optional[_Union[LaunchSpec, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ..., service: _Optional[str] = ...) -> None: ...

class Workload(_message.Message):
    __slots__ = ("name", "namespace", "uid", "spec", "phase", "message", "node", "gpus", "milli_gpu", "generation", "created_unix", "placed_unix", "variant", "priority", "p99_latency_ms", "energy_j", "slo_status")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    MILLI_GPU_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    PLACED_UNIX_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    P99_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    ENERGY_J_FIELD_NUMBER: _ClassVar[int]
    SLO_STATUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    uid: str
    spec: WorkloadSpec
    phase: WorkloadPhase
    message: str
    node: str
    gpus: _containers.RepeatedScalarFieldContainer[int]
    milli_gpu: int
    generation: int
    created_unix: float
    placed_unix: float
    variant: str
    priority: int
    p99_latency_ms: float
    energy_j: float
    slo_status: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., uid: _Optional[str] = ..., spec: _Optional[_Union[WorkloadSpec, _Mapping]] = ..., phase: _Optional[_Union[WorkloadPhase, str]] = ..., message: _Optional[str] = ..., node: _Optional[str] = ..., gpus: _Optional[_Iterable[int]] = ..., milli_gpu: _Optional[int] = ..., generation: _Optional[int] = ..., created_unix: _Optional[float] = ..., placed_unix: _Optional[float] = ..., variant: _Optional[str] = ..., priority: _Optional[int] = ..., p99_latency_ms: _Optional[float] = ..., energy_j: _Optional[float] = ..., slo_status: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("id", "time_unix", "kind", "object", "message", "fields")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    time_unix: float
    kind: str
    object: str
    message: str
    fields: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., time_unix: _Optional[float] = ..., kind: _Optional[str] = ..., object: _Optional[str] = ..., message: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ("id", "epoch", "deadline_unix", "set_power_limit", "reset_power_limit", "lock_clocks", "reset_clocks", "throttle_workload", "start_workload", "stop_workload", "checkpoint_workload", "assign_workload", "unassign_workload")
    ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_UNIX_FIELD_NUMBER: _ClassVar[int]
    SET_POWER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    RESET_POWER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    LOCK_CLOCKS_FIELD_NUMBER: _ClassVar[int]
    RESET_CLOCKS_FIELD_NUMBER: _ClassVar[int]
    THROTTLE_WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    START_WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    STOP_WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    ASSIGN_WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    UNASSIGN_WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    id: str
    epoch: int
    deadline_unix: float
    set_power_limit: SetPowerLimit
    reset_power_limit: ResetPowerLimit
    lock_clocks: LockClocks
    reset_clocks: ResetClocks
    throttle_workload: ThrottleWorkload
    start_workload: StartWorkload
    stop_workload: StopWorkload
    checkpoint_workload: CheckpointWorkload
    assign_workload: AssignWorkload
    unassign_workload: UnassignWorkload
    def __init__(self, id: _Optional[str] = ..., epoch: _Optional[int] = ..., deadline_unix: _Optional[float] = ..., set_power_limit: _Optional[_Union[SetPowerLimit, _Mapping]] = ..., reset_power_limit: _Optional[_Union[ResetPowerLimit, _Mapping]] = ..., lock_clocks: _Optional[_Union[LockClocks, _Mapping]] = ..., reset_clocks: _Optional[_Union[ResetClocks, _Mapping]] = ..., throttle_workload: _Optional[_Union[ThrottleWorkload, _Mapping]] = ..., start_workload: _Optional[_Union[StartWorkload, _Mapping]] = ..., stop_workload: _Optional[_Union[StopWorkload, _Mapping]] = ..., checkpoint_workload: _Optional[_Union[CheckpointWorkload, _Mapping]] = ..., assign_workload: _Optional[_Union[AssignWorkload, _Mapping]] = ..., unassign_workload: _Optional[_Union[UnassignWorkload, _Mapping]] = ...) -> None: ...

class SetPowerLimit(_message.Message):
    __slots__ = ("gpu_index", "watts")
    GPU_INDEX_FIELD_NUMBER: _ClassVar[int]
    WATTS_FIELD_NUMBER: _ClassVar[int]
    gpu_index: int
    watts: float
    def __init__(self, gpu_index: _Optional[int] = ..., watts: _Optional[float] = ...) -> None: ...

class ResetPowerLimit(_message.Message):
    __slots__ = ("gpu_index",)
    GPU_INDEX_FIELD_NUMBER: _ClassVar[int]
    gpu_index: int
    def __init__(self, gpu_index: _Optional[int] = ...) -> None: ...

class LockClocks(_message.Message):
    __slots__ = ("gpu_index", "min_mhz", "max_mhz")
    GPU_INDEX_FIELD_NUMBER: _ClassVar[int]
    MIN_MHZ_FIELD_NUMBER: _ClassVar[int]
    MAX_MHZ_FIELD_NUMBER: _ClassVar[int]
    gpu_index: int
    min_mhz: int
    max_mhz: int
    def __init__(self, gpu_index: _Optional[int] = ..., min_mhz: _Optional[int] = ..., max_mhz: _Optional[int] = ...) -> None: ...

class ResetClocks(_message.Message):
    __slots__ = ("gpu_index",)
    GPU_INDEX_FIELD_NUMBER: _ClassVar[int]
    gpu_index: int
    def __init__(self, gpu_index: _Optional[int] = ...) -> None: ...

class ThrottleWorkload(_message.Message):
    __slots__ = ("workload", "cpu_fraction", "freeze")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    CPU_FRACTION_FIELD_NUMBER: _ClassVar[int]
    FREEZE_FIELD_NUMBER: _ClassVar[int]
    workload: str
    cpu_fraction: float
    freeze: bool
    def __init__(self, workload: _Optional[str] = ..., cpu_fraction: _Optional[float] = ..., freeze: _Optional[bool] = ...) -> None: ...

class StartWorkload(_message.Message):
    __slots__ = ("workload", "launch", "gpus", "checkpoint_dir", "uid")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_DIR_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    workload: str
    launch: LaunchSpec
    gpus: _containers.RepeatedScalarFieldContainer[int]
    checkpoint_dir: str
    uid: str
    def __init__(self, workload: _Optional[str] = ..., launch: _Optional[_Union[LaunchSpec, _Mapping]] = ..., gpus: _Optional[_Iterable[int]] = ..., checkpoint_dir: _Optional[str] = ..., uid: _Optional[str] = ...) -> None: ...

class StopWorkload(_message.Message):
    __slots__ = ("workload", "grace_s")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    GRACE_S_FIELD_NUMBER: _ClassVar[int]
    workload: str
    grace_s: float
    def __init__(self, workload: _Optional[str] = ..., grace_s: _Optional[float] = ...) -> None: ...

class CheckpointWorkload(_message.Message):
    __slots__ = ("workload", "checkpoint_dir")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_DIR_FIELD_NUMBER: _ClassVar[int]
    workload: str
    checkpoint_dir: str
    def __init__(self, workload: _Optional[str] = ..., checkpoint_dir: _Optional[str] = ...) -> None: ...

class AssignWorkload(_message.Message):
    __slots__ = ("workload", "gpus", "milli_gpu", "priority", "p99_latency_target_ms")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    MILLI_GPU_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    P99_LATENCY_TARGET_MS_FIELD_NUMBER: _ClassVar[int]
    workload: str
    gpus: _containers.RepeatedScalarFieldContainer[int]
    milli_gpu: int
    priority: int
    p99_latency_target_ms: float
    def __init__(self, workload: _Optional[str] = ..., gpus: _Optional[_Iterable[int]] = ..., milli_gpu: _Optional[int] = ..., priority: _Optional[int] = ..., p99_latency_target_ms: _Optional[float] = ...) -> None: ...

class UnassignWorkload(_message.Message):
    __slots__ = ("workload",)
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    workload: str
    def __init__(self, workload: _Optional[str] = ...) -> None: ...

class CommandAck(_message.Message):
    __slots__ = ("command_id", "ok", "reason")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    ok: bool
    reason: str
    def __init__(self, command_id: _Optional[str] = ..., ok: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class Directive(_message.Message):
    __slots__ = ("id", "kind", "workload", "reason", "factor", "variant", "node", "gpus", "deadline_unix", "time_unix", "milli_gpu")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FACTOR_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_UNIX_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    MILLI_GPU_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: DirectiveKind
    workload: str
    reason: str
    factor: float
    variant: str
    node: str
    gpus: _containers.RepeatedScalarFieldContainer[int]
    deadline_unix: float
    time_unix: float
    milli_gpu: int
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[DirectiveKind, str]] = ..., workload: _Optional[str] = ..., reason: _Optional[str] = ..., factor: _Optional[float] = ..., variant: _Optional[str] = ..., node: _Optional[str] = ..., gpus: _Optional[_Iterable[int]] = ..., deadline_unix: _Optional[float] = ..., time_unix: _Optional[float] = ..., milli_gpu: _Optional[int] = ...) -> None: ...

class PlacementRecord(_message.Message):
    __slots__ = ("workload", "node", "gpus", "milli_gpu", "workload_generation", "placed_unix", "reason", "variant")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    MILLI_GPU_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_GENERATION_FIELD_NUMBER: _ClassVar[int]
    PLACED_UNIX_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    workload: str
    node: str
    gpus: _containers.RepeatedScalarFieldContainer[int]
    milli_gpu: int
    workload_generation: int
    placed_unix: float
    reason: str
    variant: str
    def __init__(self, workload: _Optional[str] = ..., node: _Optional[str] = ..., gpus: _Optional[_Iterable[int]] = ..., milli_gpu: _Optional[int] = ..., workload_generation: _Optional[int] = ..., placed_unix: _Optional[float] = ..., reason: _Optional[str] = ..., variant: _Optional[str] = ...) -> None: ...

class LeaderRecord(_message.Message):
    __slots__ = ("controller_id", "address", "since_unix")
    CONTROLLER_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SINCE_UNIX_FIELD_NUMBER: _ClassVar[int]
    controller_id: str
    address: str
    since_unix: float
    def __init__(self, controller_id: _Optional[str] = ..., address: _Optional[str] = ..., since_unix: _Optional[float] = ...) -> None: ...
