from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WatchEndpointsRequest(_message.Message):
    __slots__ = ("gateway",)
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    gateway: str
    def __init__(self, gateway: _Optional[str] = ...) -> None: ...

class Endpoint(_message.Message):
    __slots__ = ("replica", "address")
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    replica: str
    address: str
    def __init__(self, replica: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class ServiceEndpoints(_message.Message):
    __slots__ = ("namespace", "name", "endpoints", "max_replicas")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    endpoints: _containers.RepeatedCompositeFieldContainer[Endpoint]
    max_replicas: int
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., endpoints: _Optional[_Iterable[_Union[Endpoint, _Mapping]]] = ..., max_replicas: _Optional[int] = ...) -> None: ...

class EndpointsUpdate(_message.Message):
    __slots__ = ("snapshot", "services")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    snapshot: bool
    services: _containers.RepeatedCompositeFieldContainer[ServiceEndpoints]
    def __init__(self, snapshot: _Optional[bool] = ..., services: _Optional[_Iterable[_Union[ServiceEndpoints, _Mapping]]] = ...) -> None: ...

class LatencySummary(_message.Message):
    __slots__ = ("count", "sum_ms", "p50_ms", "p99_ms", "max_ms")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SUM_MS_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_MS_FIELD_NUMBER: _ClassVar[int]
    count: int
    sum_ms: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    def __init__(self, count: _Optional[int] = ..., sum_ms: _Optional[float] = ..., p50_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ..., max_ms: _Optional[float] = ...) -> None: ...

class ReplicaTraffic(_message.Message):
    __slots__ = ("replica", "in_flight", "completed", "errors", "draining")
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    replica: str
    in_flight: int
    completed: int
    errors: int
    draining: bool
    def __init__(self, replica: _Optional[str] = ..., in_flight: _Optional[int] = ..., completed: _Optional[int] = ..., errors: _Optional[int] = ..., draining: _Optional[bool] = ...) -> None: ...

class ServiceTraffic(_message.Message):
    __slots__ = ("namespace", "name", "arrivals", "completed", "errors", "rejected", "in_flight", "queued", "ttft", "chunk_gap", "latency", "replicas")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARRIVALS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    TTFT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_GAP_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    arrivals: int
    completed: int
    errors: int
    rejected: int
    in_flight: int
    queued: int
    ttft: LatencySummary
    chunk_gap: LatencySummary
    latency: LatencySummary
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaTraffic]
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., arrivals: _Optional[int] = ..., completed: _Optional[int] = ..., errors: _Optional[int] = ..., rejected: _Optional[int] = ..., in_flight: _Optional[int] = ..., queued: _Optional[int] = ..., ttft: _Optional[_Union[LatencySummary, _Mapping]] = ..., chunk_gap: _Optional[_Union[LatencySummary, _Mapping]] = ..., latency: _Optional[_Union[LatencySummary, _Mapping]] = ..., replicas: _Optional[_Iterable[_Union[ReplicaTraffic, _Mapping]]] = ...) -> None: ...

class TrafficReport(_message.Message):
    __slots__ = ("gateway", "time_unix", "interval_s", "services")
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    gateway: str
    time_unix: float
    interval_s: float
    services: _containers.RepeatedCompositeFieldContainer[ServiceTraffic]
    def __init__(self, gateway: _Optional[str] = ..., time_unix: _Optional[float] = ..., interval_s: _Optional[float] = ..., services: _Optional[_Iterable[_Union[ServiceTraffic, _Mapping]]] = ...) -> None: ...

class ReportTrafficResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
