"""Migration's vocabulary: its config, phases, what the driver observes, the orders it carries
out, and the record's small helpers. The rules that use them are migration_step.step."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sdk.pb.aiwo.v1 import migration_pb2, node_pb2, types_pb2, workload_pb2

REQUESTED = migration_pb2.MIGRATION_PHASE_REQUESTED
CHECKPOINTING = migration_pb2.MIGRATION_PHASE_CHECKPOINTING
STOPPED = migration_pb2.MIGRATION_PHASE_STOPPED
TRANSFERRING = migration_pb2.MIGRATION_PHASE_TRANSFERRING
STARTING = migration_pb2.MIGRATION_PHASE_STARTING_ON_TARGET
RUNNING = migration_pb2.MIGRATION_PHASE_RUNNING
FAILED = migration_pb2.MIGRATION_PHASE_FAILED
TERMINAL = frozenset({RUNNING, FAILED})


@dataclass(frozen=True)
class MigrationConfig:
    checkpoint_grace_s: float = 30.0  # SIGTERM -> SIGKILL on the source: time to checkpoint
    directive_timeout_s: float = 30.0  # for an attached app to ack CHECKPOINT / MIGRATE
    stop_timeout_s: float = 30.0  # beyond the grace, for the source agent's ack
    transfer_timeout_s: float = 60.0
    start_timeout_s: float = 30.0
    settle_s: float = 2.0  # the target process must live this long: a corrupt checkpoint
    # typically makes a workload exit at once, and that must roll back, not count as done
    target_lost_s: float = 3.0  # a target without a stream this long fails the migration
    resume_grace_s: float = 10.0  # a new leader gives every phase at least this much time
    max_checkpoint_bytes: int = 64 * 1024 * 1024  # held in the leader's memory while relayed
    interval_s: float = 0.5  # the loop's pace when nothing wakes it


class Lost:
    """A command that left the command log without an ack this leader saw (a previous
    leader got it, or it expired): its outcome is unknown."""


LOST = Lost()
CommandResult = types_pb2.CommandAck | Lost | None


@dataclass(frozen=True)
class NoRoom:
    """The policy's answer when no node fits, e.g. "0/1 nodes fit: 1 insufficient GPUs"."""

    reason: str


Choice = tuple[str, tuple[int, ...]] | NoRoom  # (node, GPU indices) or why not


@dataclass(frozen=True)
class TransferView:
    """The leader's copy of a checkpoint on its way from the source (relays.CheckpointRelay)."""

    complete: bool = False
    error: str = ""
    size_bytes: int = 0
    sha256: str = ""


def _no_choice() -> Choice:
    return NoRoom("no target was offered")


def _no_shared_root(target: str) -> str:
    return ""


@dataclass(frozen=True)
class Observations:
    """What the world says about one migration now, as the driver read it."""

    workload: types_pb2.Workload | None
    placement: types_pb2.PlacementRecord | None
    new_id: Callable[[], str]  # a fresh command or directive id (randomness comes in)
    attached: bool = False  # the workload's app has an SDK session
    resumed: bool = False  # first look of a new leadership term
    deadline_floor_unix: float = 0.0  # a new leader gives every phase at least until then
    directive_ack: workload_pb2.DirectiveAck | None = None  # the pending directive's ack
    # The pending command's outcome on the node the phase waits on (source, or target
    # when starting).
    result: CommandResult = None
    source_exit: node_pb2.ProcessEvent | None = None
    target_exit: node_pb2.ProcessEvent | None = None
    transfer: TransferView | None = None
    # The checkpoint is complete but could not be queued to the target (no stream yet).
    forward_blocked: bool = False
    installed: node_pb2.CheckpointInstalled | None = None
    target_absent_since_unix: float | None = None  # the target has no stream since then
    # Where the workload can go now (asked only when a step needs it: it runs the policy).
    target: Callable[[], Choice] = _no_choice
    room_on_source: Callable[[], Choice] = _no_choice
    # The checkpoint root the source shares with `target`, or "".
    shared_root: Callable[[str], str] = _no_shared_root


# ------------------------------------------------------------ what the driver carries out
# Staged with the record, in its transaction:


@dataclass(frozen=True)
class Move:
    """Move the placement (and GPU accounting) to `node`; no start: a later order says when."""

    node: str
    gpus: tuple[int, ...]
    message: str


@dataclass(frozen=True)
class Release:
    """Give up the placement: the workload fails with `message`."""

    message: str


@dataclass(frozen=True)
class Stop:
    id: str
    node: str


@dataclass(frozen=True)
class Upload:
    """Ask `node` for the checkpoint; the command id names the transfer."""

    id: str
    node: str


@dataclass(frozen=True)
class Start:
    id: str
    node: str
    gpus: tuple[int, ...]
    checkpoint_dir: str
    forget_exit: bool = True  # only an exit after this start counts


@dataclass(frozen=True)
class SendDirective:
    id: str
    fields: dict[str, object]


@dataclass(frozen=True)
class Message:
    """The workload's status line (and phase, when given). `replacing`: only if the line
    is one of these now (what the migration itself wrote); None: whatever it is."""

    text: str
    phase: int | None = None
    replacing: frozenset[str] | None = None


# After the commit:


@dataclass(frozen=True)
class DropTransfer:
    transfer_id: str


@dataclass(frozen=True)
class ReportExit:
    """Hand an exit to the workload lifecycle (the migration no longer owns it)."""

    node: str
    event: node_pb2.ProcessEvent


@dataclass(frozen=True)
class ObserveDuration:
    result: str
    seconds: float


Command = (
    Move
    | Release
    | Stop
    | Upload
    | Start
    | SendDirective
    | Message
    | DropTransfer
    | ReportExit
    | ObserveDuration
)


@dataclass(frozen=True)
class Event:
    """An event for the event log, emitted once the record is committed."""

    kind: str
    message: str
    fields: dict[str, str] = field(default_factory=dict)


def event_of(m: migration_pb2.Migration) -> Event:
    """The event of the step the record just took."""
    last = m.history[-1] if m.history else None
    kind = {RUNNING: "migration_succeeded", FAILED: "migration_failed"}.get(
        m.phase, "migration_progress"
    )
    name = phase_name(m.phase)
    fields = {"source": m.source_node, "target": m.target_node, "phase": name}
    return Event(kind, f"{name}: {last.detail if last else ''}", fields)


def advance(
    m: migration_pb2.Migration, phase: int, now: float, detail: str, **changes: object
) -> migration_pb2.Migration:
    nxt = migration_pb2.Migration()
    nxt.CopyFrom(m)
    for name, value in changes.items():
        target = getattr(nxt, name)
        if isinstance(value, list):
            target[:] = value
        else:
            setattr(nxt, name, value)
    nxt.phase = phase  # type: ignore[assignment]
    nxt.updated_unix = now
    nxt.history.append(migration_pb2.MigrationStep(phase=phase, time_unix=now, detail=detail))  # type: ignore[arg-type]
    return nxt


def phase_name(phase: int) -> str:
    return migration_pb2.MigrationPhase.Name(phase).removeprefix("MIGRATION_PHASE_").lower()  # type: ignore[arg-type]


def exit_text(event: node_pb2.ProcessEvent) -> str:
    """ "exited with code 3" or "killed by SIGKILL"."""
    if event.signal:
        return f"killed by {event.signal}"
    return f"exited with code {event.exit_code}"


def checkpoint_fields(m: migration_pb2.Migration, deadline_unix: float) -> dict[str, object]:
    return {
        "kind": types_pb2.DIRECTIVE_KIND_CHECKPOINT,
        "reason": f"migrating to {m.target_node}: {m.reason}",
        "deadline_unix": deadline_unix,
    }


def migrate_fields(
    m: migration_pb2.Migration, node: str, gpus: Sequence[int], milli_gpu: int, deadline_unix: float
) -> dict[str, object]:
    return {
        "kind": types_pb2.DIRECTIVE_KIND_MIGRATE,
        "node": node,
        "gpus": list(gpus),
        "milli_gpu": milli_gpu,
        "reason": m.reason,
        "deadline_unix": deadline_unix,
    }
