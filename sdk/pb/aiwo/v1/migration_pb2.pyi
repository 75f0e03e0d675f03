from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MigrationPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MIGRATION_PHASE_UNSPECIFIED: _ClassVar[MigrationPhase]
    MIGRATION_PHASE_REQUESTED: _ClassVar[MigrationPhase]
    MIGRATION_PHASE_CHECKPOINTING: _ClassVar[MigrationPhase]
    MIGRATION_PHASE_STOPPED: _ClassVar[MigrationPhase]
    MIGRATION_PHASE_TRANSFERRING: _ClassVar[MigrationPhase]
    MIGRATION_PHASE_STARTING_ON_TARGET: _ClassVar[MigrationPhase]
    MIGRATION_PHASE_RUNNING: _ClassVar[MigrationPhase]
    MIGRATION_PHASE_FAILED: _ClassVar[MigrationPhase]
MIGRATION_PHASE_UNSPECIFIED: MigrationPhase
MIGRATION_PHASE_REQUESTED: MigrationPhase
MIGRATION_PHASE_CHECKPOINTING: MigrationPhase
MIGRATION_PHASE_STOPPED: MigrationPhase
MIGRATION_PHASE_TRANSFERRING: MigrationPhase
MIGRATION_PHASE_STARTING_ON_TARGET: MigrationPhase
MIGRATION_PHASE_RUNNING: MigrationPhase
MIGRATION_PHASE_FAILED: MigrationPhase

class MigrationStep(_message.Message):
    __slots__ = ("phase", "time_unix", "detail")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    phase: MigrationPhase
    time_unix: float
    detail: str
    def __init__(self, phase: _Optional[_Union[MigrationPhase, str]] = ..., time_unix: _Optional[float] = ..., detail: _Optional[str] = ...) -> None: ...

class Migration(_message.Message):
    __slots__ = ("workload", "uid", "source_node", "source_gpus", "target_node", "target_gpus", "milli_gpu", "phase", "reason", "error", "managed", "target_fixed", "requested_by", "requested_unix", "updated_unix", "phase_deadline_unix", "pending_command", "pending_directive", "transfer_id", "checkpoint_sha256", "checkpoint_bytes", "checkpoint_path", "started_unix", "history", "placed_unix")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_GPUS_FIELD_NUMBER: _ClassVar[int]
    TARGET_NODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_GPUS_FIELD_NUMBER: _ClassVar[int]
    MILLI_GPU_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MANAGED_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIXED_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_UNIX_FIELD_NUMBER: _ClassVar[int]
    UPDATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    PHASE_DEADLINE_UNIX_FIELD_NUMBER: _ClassVar[int]
    PENDING_COMMAND_FIELD_NUMBER: _ClassVar[int]
    PENDING_DIRECTIVE_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_SHA256_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_PATH_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    PLACED_UNIX_FIELD_NUMBER: _ClassVar[int]
    workload: str
    uid: str
    source_node: str
    source_gpus: _containers.RepeatedScalarFieldContainer[int]
    target_node: str
    target_gpus: _containers.RepeatedScalarFieldContainer[int]
    milli_gpu: int
    phase: MigrationPhase
    reason: str
    error: str
    managed: bool
    target_fixed: bool
    requested_by: str
    requested_unix: float
    updated_unix: float
    phase_deadline_unix: float
    pending_command: str
    pending_directive: str
    transfer_id: str
    checkpoint_sha256: str
    checkpoint_bytes: int
    checkpoint_path: str
    started_unix: float
    history: _containers.RepeatedCompositeFieldContainer[MigrationStep]
    placed_unix: float
    def __init__(self, workload: _Optional[str] = ..., uid: _Optional[str] = ..., source_node: _Optional[str] = ..., source_gpus: _Optional[_Iterable[int]] = ..., target_node: _Optional[str] = ..., target_gpus: _Optional[_Iterable[int]] = ..., milli_gpu: _Optional[int] = ..., phase: _Optional[_Union[MigrationPhase, str]] = ..., reason: _Optional[str] = ..., error: _Optional[str] = ..., managed: _Optional[bool] = ..., target_fixed: _Optional[bool] = ..., requested_by: _Optional[str] = ..., requested_unix: _Optional[float] = ..., updated_unix: _Optional[float] = ..., phase_deadline_unix: _Optional[float] = ..., pending_command: _Optional[str] = ..., pending_directive: _Optional[str] = ..., transfer_id: _Optional[str] = ..., checkpoint_sha256: _Optional[str] = ..., checkpoint_bytes: _Optional[int] = ..., checkpoint_path: _Optional[str] = ..., started_unix: _Optional[float] = ..., history: _Optional[_Iterable[_Union[MigrationStep, _Mapping]]] = ..., placed_unix: _Optional[float] = ...) -> None: ...
