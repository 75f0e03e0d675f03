from sdk.pb.aiwo.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterWorkloadRequest(_message.Message):
    __slots__ = ("name", "namespace", "spec")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    spec: _types_pb2.WorkloadSpec
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., spec: _Optional[_Union[_types_pb2.WorkloadSpec, _Mapping]] = ...) -> None: ...

class UpdateWorkloadRequest(_message.Message):
    __slots__ = ("name", "namespace", "spec", "expected_generation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_GENERATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    spec: _types_pb2.WorkloadSpec
    expected_generation: int
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., spec: _Optional[_Union[_types_pb2.WorkloadSpec, _Mapping]] = ..., expected_generation: _Optional[int] = ...) -> None: ...

class DeregisterWorkloadRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class DeregisterWorkloadResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetWorkloadRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class AttachHello(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class MetricsReport(_message.Message):
    __slots__ = ("time_unix", "latency_ms", "throughput_per_s", "queue_depth", "throttle_factor")
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    THROUGHPUT_PER_S_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    THROTTLE_FACTOR_FIELD_NUMBER: _ClassVar[int]
    time_unix: float
    latency_ms: _containers.RepeatedScalarFieldContainer[float]
    throughput_per_s: float
    queue_depth: int
    throttle_factor: float
    def __init__(self, time_unix: _Optional[float] = ..., latency_ms: _Optional[_Iterable[float]] = ..., throughput_per_s: _Optional[float] = ..., queue_depth: _Optional[int] = ..., throttle_factor: _Optional[float] = ...) -> None: ...

class DirectiveAck(_message.Message):
    __slots__ = ("directive_id", "ok", "reason")
    DIRECTIVE_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    directive_id: str
    ok: bool
    reason: str
    def __init__(self, directive_id: _Optional[str] = ..., ok: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class AppMessage(_message.Message):
    __slots__ = ("hello", "metrics", "ack")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    hello: AttachHello
    metrics: MetricsReport
    ack: DirectiveAck
    def __init__(self, hello: _Optional[_Union[AttachHello, _Mapping]] = ..., metrics: _Optional[_Union[MetricsReport, _Mapping]] = ..., ack: _Optional[_Union[DirectiveAck, _Mapping]] = ...) -> None: ...
