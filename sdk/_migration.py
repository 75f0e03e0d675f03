"""The SDK's view of migrations, drains and workload logs (mirrors of the aiwo.v1 messages).

Same conventions as `_types`: field names are the message's, enums are `StrEnum`s with the
short lowercase proto names, times are unix seconds. docs/migration.md explains the phases.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sdk._types import Node, _Frozen


class MigrationPhase(enum.StrEnum):
    UNSPECIFIED = "unspecified"
    REQUESTED = "requested"
    CHECKPOINTING = "checkpointing"
    STOPPED = "stopped"
    TRANSFERRING = "transferring"
    STARTING_ON_TARGET = "starting_on_target"
    RUNNING = "running"  # done: the workload runs on the target
    FAILED = "failed"  # done: rolled back to the source; `error` says why

    @property
    def is_done(self) -> bool:
        return self in (MigrationPhase.RUNNING, MigrationPhase.FAILED)


@dataclass(frozen=True)
class MigrationStep:
    phase: MigrationPhase = MigrationPhase.UNSPECIFIED
    time_unix: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class Migration(_Frozen):
    """One workload's latest migration, as the controller drives it."""

    workload: str = ""  # "namespace/name"
    uid: str = ""
    source_node: str = ""
    source_gpus: Sequence[int] = ()
    target_node: str = ""
    target_gpus: Sequence[int] = ()
    milli_gpu: int = 0
    phase: MigrationPhase = MigrationPhase.UNSPECIFIED
    reason: str = ""  # why it was requested
    error: str = ""  # why it failed, and how it was rolled back
    managed: bool = False  # the agent runs it (else the application moves itself)
    target_fixed: bool = False
    requested_by: str = ""  # "operator", "drain", "optimizer"
    requested_unix: float = 0.0
    updated_unix: float = 0.0
    phase_deadline_unix: float = 0.0
    pending_command: str = ""
    pending_directive: str = ""
    transfer_id: str = ""
    checkpoint_sha256: str = ""
    checkpoint_bytes: int = 0
    checkpoint_path: str = ""  # on the target, once installed
    started_unix: float = 0.0
    history: Sequence[MigrationStep] = ()
    placed_unix: float = 0.0  # the placement the migration holds

    @property
    def done(self) -> bool:
        return self.phase.is_done


@dataclass(frozen=True)
class DrainResult(_Frozen):
    """`drain`: the cordoned node, the migrations under way, and what cannot move (why)."""

    node: Node | None = None
    migrations: Sequence[Migration] = ()
    skipped: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkloadLogs:
    """The end of a managed workload's stdout or stderr, read on `node`."""

    data: bytes = b""
    node: str = ""
    truncated: bool = False  # the file holds more than `data`
    size_bytes: int = 0

    @property
    def text(self) -> str:
        return self.data.decode(errors="replace")
