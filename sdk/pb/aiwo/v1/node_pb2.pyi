from sdk.pb.aiwo.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterNodeRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: _types_pb2.NodeInfo
    def __init__(self, node: _Optional[_Union[_types_pb2.NodeInfo, _Mapping]] = ...) -> None: ...

class RegisterNodeResponse(_message.Message):
    __slots__ = ("session_id", "telemetry_interval_s", "epoch")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    telemetry_interval_s: float
    epoch: int
    def __init__(self, session_id: _Optional[str] = ..., telemetry_interval_s: _Optional[float] = ..., epoch: _Optional[int] = ...) -> None: ...

class AgentHello(_message.Message):
    __slots__ = ("node", "session_id", "highest_epoch_seen")
    NODE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_EPOCH_SEEN_FIELD_NUMBER: _ClassVar[int]
    node: str
    session_id: str
    highest_epoch_seen: int
    def __init__(self, node: _Optional[str] = ..., session_id: _Optional[str] = ..., highest_epoch_seen: _Optional[int] = ...) -> None: ...

class TelemetryReport(_message.Message):
    __slots__ = ("time_unix", "gpus", "nets", "gpu_backend")
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    NETS_FIELD_NUMBER: _ClassVar[int]
    GPU_BACKEND_FIELD_NUMBER: _ClassVar[int]
    time_unix: float
    gpus: _containers.RepeatedCompositeFieldContainer[_types_pb2.GpuSample]
    nets: _containers.RepeatedCompositeFieldContainer[_types_pb2.NetSample]
    gpu_backend: _types_pb2.GpuBackend
    def __init__(self, time_unix: _Optional[float] = ..., gpus: _Optional[_Iterable[_Union[_types_pb2.GpuSample, _Mapping]]] = ..., nets: _Optional[_Iterable[_Union[_types_pb2.NetSample, _Mapping]]] = ..., gpu_backend: _Optional[_Union[_types_pb2.GpuBackend, _Mapping]] = ...) -> None: ...

class ProcessEvent(_message.Message):
    __slots__ = ("workload", "kind", "pid", "exit_code", "signal", "detail", "time_unix")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    workload: str
    kind: str
    pid: int
    exit_code: int
    signal: str
    detail: str
    time_unix: float
    def __init__(self, workload: _Optional[str] = ..., kind: _Optional[str] = ..., pid: _Optional[int] = ..., exit_code: _Optional[int] = ..., signal: _Optional[str] = ..., detail: _Optional[str] = ..., time_unix: _Optional[float] = ...) -> None: ...

class AgentMessage(_message.Message):
    __slots__ = ("hello", "telemetry", "ack", "process_event")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    PROCESS_EVENT_FIELD_NUMBER: _ClassVar[int]
    hello: AgentHello
    telemetry: TelemetryReport
    ack: _types_pb2.CommandAck
    process_event: ProcessEvent
    def __init__(self, hello: _Optional[_Union[AgentHello, _Mapping]] = ..., telemetry: _Optional[_Union[TelemetryReport, _Mapping]] = ..., ack: _Optional[_Union[_types_pb2.CommandAck, _Mapping]] = ..., process_event: _Optional[_Union[ProcessEvent, _Mapping]] = ...) -> None: ...

class AssignmentSet(_message.Message):
    __slots__ = ("epoch", "assignments", "managed")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    MANAGED_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    assignments: _containers.RepeatedCompositeFieldContainer[_types_pb2.AssignWorkload]
    managed: _containers.RepeatedCompositeFieldContainer[_types_pb2.StartWorkload]
    def __init__(self, epoch: _Optional[int] = ..., assignments: _Optional[_Iterable[_Union[_types_pb2.AssignWorkload, _Mapping]]] = ..., managed: _Optional[_Iterable[_Union[_types_pb2.StartWorkload, _Mapping]]] = ...) -> None: ...

class ControllerMessage(_message.Message):
    __slots__ = ("command", "heartbeat_unix", "sync")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_UNIX_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    command: _types_pb2.Command
    heartbeat_unix: float
    sync: AssignmentSet
    def __init__(self, command: _Optional[_Union[_types_pb2.Command, _Mapping]] = ..., heartbeat_unix: _Optional[float] = ..., sync: _Optional[_Union[AssignmentSet, _Mapping]] = ...) -> None: ...
