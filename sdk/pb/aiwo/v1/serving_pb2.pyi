from sdk.pb.aiwo.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReplicaState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPLICA_STATE_UNSPECIFIED: _ClassVar[ReplicaState]
    REPLICA_STATE_PENDING: _ClassVar[ReplicaState]
    REPLICA_STATE_STARTING: _ClassVar[ReplicaState]
    REPLICA_STATE_READY: _ClassVar[ReplicaState]
    REPLICA_STATE_DRAINING: _ClassVar[ReplicaState]
    REPLICA_STATE_CRASH_LOOP: _ClassVar[ReplicaState]
    REPLICA_STATE_FAILED: _ClassVar[ReplicaState]
REPLICA_STATE_UNSPECIFIED: ReplicaState
REPLICA_STATE_PENDING: ReplicaState
REPLICA_STATE_STARTING: ReplicaState
REPLICA_STATE_READY: ReplicaState
REPLICA_STATE_DRAINING: ReplicaState
REPLICA_STATE_CRASH_LOOP: ReplicaState
REPLICA_STATE_FAILED: ReplicaState

class ServiceSpec(_message.Message):
    __slots__ = ("min_replicas", "max_replicas", "template", "health_path", "load_timeout_s", "drain_grace_s")
    MIN_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    HEALTH_PATH_FIELD_NUMBER: _ClassVar[int]
    LOAD_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    DRAIN_GRACE_S_FIELD_NUMBER: _ClassVar[int]
    min_replicas: int
    max_replicas: int
    template: _types_pb2.WorkloadSpec
    health_path: str
    load_timeout_s: float
    drain_grace_s: float
    def __init__(self, min_replicas: _Optional[int] = ..., max_replicas: _Optional[int] = ..., template: _Optional[_Union[_types_pb2.WorkloadSpec, _Mapping]] = ..., health_path: _Optional[str] = ..., load_timeout_s: _Optional[float] = ..., drain_grace_s: _Optional[float] = ...) -> None: ...

class ScaleRecord(_message.Message):
    __slots__ = ("time_unix", "from_replicas", "to_replicas", "reason")
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    FROM_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    TO_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    time_unix: float
    from_replicas: int
    to_replicas: int
    reason: str
    def __init__(self, time_unix: _Optional[float] = ..., from_replicas: _Optional[int] = ..., to_replicas: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class Replica(_message.Message):
    __slots__ = ("workload", "index", "node", "endpoint", "state", "state_since_unix", "restarts", "message")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_SINCE_UNIX_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    workload: str
    index: int
    node: str
    endpoint: str
    state: ReplicaState
    state_since_unix: float
    restarts: int
    message: str
    def __init__(self, workload: _Optional[str] = ..., index: _Optional[int] = ..., node: _Optional[str] = ..., endpoint: _Optional[str] = ..., state: _Optional[_Union[ReplicaState, str]] = ..., state_since_unix: _Optional[float] = ..., restarts: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class Service(_message.Message):
    __slots__ = ("name", "namespace", "spec", "desired", "ready", "pinned", "replicas", "last_scale", "message", "created_unix", "generation", "replicas_failed", "deleting", "replace_after_unix", "failure_streak", "demand")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    DESIRED_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    LAST_SCALE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FAILED_FIELD_NUMBER: _ClassVar[int]
    DELETING_FIELD_NUMBER: _ClassVar[int]
    REPLACE_AFTER_UNIX_FIELD_NUMBER: _ClassVar[int]
    FAILURE_STREAK_FIELD_NUMBER: _ClassVar[int]
    DEMAND_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    spec: ServiceSpec
    desired: int
    ready: int
    pinned: int
    replicas: _containers.RepeatedCompositeFieldContainer[Replica]
    last_scale: ScaleRecord
    message: str
    created_unix: float
    generation: int
    replicas_failed: int
    deleting: bool
    replace_after_unix: float
    failure_streak: int
    demand: ServiceDemand
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., spec: _Optional[_Union[ServiceSpec, _Mapping]] = ..., desired: _Optional[int] = ..., ready: _Optional[int] = ..., pinned: _Optional[int] = ..., replicas: _Optional[_Iterable[_Union[Replica, _Mapping]]] = ..., last_scale: _Optional[_Union[ScaleRecord, _Mapping]] = ..., message: _Optional[str] = ..., created_unix: _Optional[float] = ..., generation: _Optional[int] = ..., replicas_failed: _Optional[int] = ..., deleting: _Optional[bool] = ..., replace_after_unix: _Optional[float] = ..., failure_streak: _Optional[int] = ..., demand: _Optional[_Union[ServiceDemand, _Mapping]] = ...) -> None: ...

class ServiceDemand(_message.Message):
    __slots__ = ("window_s", "arrivals_per_s", "in_flight", "queued", "ttft_p99_ms", "chunk_gap_p99_ms", "latency_p99_ms", "errors_per_s")
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    ARRIVALS_PER_S_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    TTFT_P99_MS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_GAP_P99_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_MS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_PER_S_FIELD_NUMBER: _ClassVar[int]
    window_s: float
    arrivals_per_s: float
    in_flight: int
    queued: int
    ttft_p99_ms: float
    chunk_gap_p99_ms: float
    latency_p99_ms: float
    errors_per_s: float
    def __init__(self, window_s: _Optional[float] = ..., arrivals_per_s: _Optional[float] = ..., in_flight: _Optional[int] = ..., queued: _Optional[int] = ..., ttft_p99_ms: _Optional[float] = ..., chunk_gap_p99_ms: _Optional[float] = ..., latency_p99_ms: _Optional[float] = ..., errors_per_s: _Optional[float] = ...) -> None: ...

class CreateServiceRequest(_message.Message):
    __slots__ = ("name", "namespace", "spec")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    spec: ServiceSpec
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., spec: _Optional[_Union[ServiceSpec, _Mapping]] = ...) -> None: ...

class GetServiceRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class ListServicesRequest(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class ListServicesResponse(_message.Message):
    __slots__ = ("services",)
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[Service]
    def __init__(self, services: _Optional[_Iterable[_Union[Service, _Mapping]]] = ...) -> None: ...

class ScaleServiceRequest(_message.Message):
    __slots__ = ("name", "namespace", "replicas", "auto")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    AUTO_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    replicas: int
    auto: bool
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., replicas: _Optional[int] = ..., auto: _Optional[bool] = ...) -> None: ...

class UpdateServiceRequest(_message.Message):
    __slots__ = ("name", "namespace", "min_replicas", "max_replicas", "ttft_ms", "tpot_ms", "p99_latency_ms", "expected_generation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    MIN_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    TTFT_MS_FIELD_NUMBER: _ClassVar[int]
    TPOT_MS_FIELD_NUMBER: _ClassVar[int]
    P99_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_GENERATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    min_replicas: int
    max_replicas: int
    ttft_ms: float
    tpot_ms: float
    p99_latency_ms: float
    expected_generation: int
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., min_replicas: _Optional[int] = ..., max_replicas: _Optional[int] = ..., ttft_ms: _Optional[float] = ..., tpot_ms: _Optional[float] = ..., p99_latency_ms: _Optional[float] = ..., expected_generation: _Optional[int] = ...) -> None: ...

class DeleteServiceRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class DeleteServiceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
