from sdk.pb.aiwo.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WorkloadCredentialsRequest(_message.Message):
    __slots__ = ("node", "workload")
    NODE_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    node: str
    workload: str
    def __init__(self, node: _Optional[str] = ..., workload: _Optional[str] = ...) -> None: ...

class WorkloadCredentialsResponse(_message.Message):
    __slots__ = ("token", "expires_unix")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_UNIX_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_unix: float
    def __init__(self, token: _Optional[str] = ..., expires_unix: _Optional[float] = ...) -> None: ...

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
    __slots__ = ("time_unix", "gpus", "nets", "gpu_backend", "throttles", "clock_locks")
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    NETS_FIELD_NUMBER: _ClassVar[int]
    GPU_BACKEND_FIELD_NUMBER: _ClassVar[int]
    THROTTLES_FIELD_NUMBER: _ClassVar[int]
    CLOCK_LOCKS_FIELD_NUMBER: _ClassVar[int]
    time_unix: float
    gpus: _containers.RepeatedCompositeFieldContainer[_types_pb2.GpuSample]
    nets: _containers.RepeatedCompositeFieldContainer[_types_pb2.NetSample]
    gpu_backend: _types_pb2.GpuBackend
    throttles: _containers.RepeatedCompositeFieldContainer[ProcessThrottle]
    clock_locks: _containers.RepeatedCompositeFieldContainer[ClockLock]
    def __init__(self, time_unix: _Optional[float] = ..., gpus: _Optional[_Iterable[_Union[_types_pb2.GpuSample, _Mapping]]] = ..., nets: _Optional[_Iterable[_Union[_types_pb2.NetSample, _Mapping]]] = ..., gpu_backend: _Optional[_Union[_types_pb2.GpuBackend, _Mapping]] = ..., throttles: _Optional[_Iterable[_Union[ProcessThrottle, _Mapping]]] = ..., clock_locks: _Optional[_Iterable[_Union[ClockLock, _Mapping]]] = ...) -> None: ...

class ClockLock(_message.Message):
    __slots__ = ("gpu_index", "min_mhz", "max_mhz")
    GPU_INDEX_FIELD_NUMBER: _ClassVar[int]
    MIN_MHZ_FIELD_NUMBER: _ClassVar[int]
    MAX_MHZ_FIELD_NUMBER: _ClassVar[int]
    gpu_index: int
    min_mhz: int
    max_mhz: int
    def __init__(self, gpu_index: _Optional[int] = ..., min_mhz: _Optional[int] = ..., max_mhz: _Optional[int] = ...) -> None: ...

class ProcessThrottle(_message.Message):
    __slots__ = ("workload", "cpu_fraction")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    CPU_FRACTION_FIELD_NUMBER: _ClassVar[int]
    workload: str
    cpu_fraction: float
    def __init__(self, workload: _Optional[str] = ..., cpu_fraction: _Optional[float] = ...) -> None: ...

class ProcessEvent(_message.Message):
    __slots__ = ("workload", "kind", "pid", "exit_code", "signal", "detail", "time_unix", "outcome", "port")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    workload: str
    kind: str
    pid: int
    exit_code: int
    signal: str
    detail: str
    time_unix: float
    outcome: str
    port: int
    def __init__(self, workload: _Optional[str] = ..., kind: _Optional[str] = ..., pid: _Optional[int] = ..., exit_code: _Optional[int] = ..., signal: _Optional[str] = ..., detail: _Optional[str] = ..., time_unix: _Optional[float] = ..., outcome: _Optional[str] = ..., port: _Optional[int] = ...) -> None: ...

class CheckpointChunk(_message.Message):
    __slots__ = ("transfer_id", "workload", "offset", "data", "last", "total_bytes", "sha256")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    workload: str
    offset: int
    data: bytes
    last: bool
    total_bytes: int
    sha256: str
    def __init__(self, transfer_id: _Optional[str] = ..., workload: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., last: _Optional[bool] = ..., total_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class CheckpointInstalled(_message.Message):
    __slots__ = ("transfer_id", "workload", "ok", "reason", "path")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    workload: str
    ok: bool
    reason: str
    path: str
    def __init__(self, transfer_id: _Optional[str] = ..., workload: _Optional[str] = ..., ok: _Optional[bool] = ..., reason: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class AgentLogsRequest(_message.Message):
    __slots__ = ("request_id", "workload", "stderr", "tail_bytes")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    TAIL_BYTES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    workload: str
    stderr: bool
    tail_bytes: int
    def __init__(self, request_id: _Optional[str] = ..., workload: _Optional[str] = ..., stderr: _Optional[bool] = ..., tail_bytes: _Optional[int] = ...) -> None: ...

class AgentLogsReply(_message.Message):
    __slots__ = ("request_id", "ok", "reason", "data", "truncated", "size_bytes")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    ok: bool
    reason: str
    data: bytes
    truncated: bool
    size_bytes: int
    def __init__(self, request_id: _Optional[str] = ..., ok: _Optional[bool] = ..., reason: _Optional[str] = ..., data: _Optional[bytes] = ..., truncated: _Optional[bool] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class AgentMessage(_message.Message):
    __slots__ = ("hello", "telemetry", "ack", "process_event", "checkpoint_chunk", "checkpoint_installed", "logs_reply")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    TELEMETRY_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    PROCESS_EVENT_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_CHUNK_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_INSTALLED_FIELD_NUMBER: _ClassVar[int]
    LOGS_REPLY_FIELD_NUMBER: _ClassVar[int]
    hello: AgentHello
    telemetry: TelemetryReport
    ack: _types_pb2.CommandAck
    process_event: ProcessEvent
    checkpoint_chunk: CheckpointChunk
    checkpoint_installed: CheckpointInstalled
    logs_reply: AgentLogsReply
    def __init__(self, hello: _Optional[_Union[AgentHello, _Mapping]] = ..., telemetry: _Optional[_Union[TelemetryReport, _Mapping]] = ..., ack: _Optional[_Union[_types_pb2.CommandAck, _Mapping]] = ..., process_event: _Optional[_Union[ProcessEvent, _Mapping]] = ..., checkpoint_chunk: _Optional[_Union[CheckpointChunk, _Mapping]] = ..., checkpoint_installed: _Optional[_Union[CheckpointInstalled, _Mapping]] = ..., logs_reply: _Optional[_Union[AgentLogsReply, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("command", "heartbeat_unix", "sync", "checkpoint_chunk", "logs_request")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_UNIX_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_CHUNK_FIELD_NUMBER: _ClassVar[int]
    LOGS_REQUEST_FIELD_NUMBER: _ClassVar[int]
    command: _types_pb2.Command
    heartbeat_unix: float
    sync: AssignmentSet
    checkpoint_chunk: CheckpointChunk
    logs_request: AgentLogsRequest
    def __init__(self, command: _Optional[_Union[_types_pb2.Command, _Mapping]] = ..., heartbeat_unix: _Optional[float] = ..., sync: _Optional[_Union[AssignmentSet, _Mapping]] = ..., checkpoint_chunk: _Optional[_Union[CheckpointChunk, _Mapping]] = ..., logs_request: _Optional[_Union[AgentLogsRequest, _Mapping]] = ...) -> None: ...
