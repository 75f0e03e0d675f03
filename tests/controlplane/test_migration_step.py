"""Migration's pure rules (controlplane/leader/migration_step.py) as a table: no etcd, no streams.

Each row is a record in some phase, what the driver observed, and what must come out: the
next phase (None: no change), the kinds of orders, and a phrase of the step's detail. The
flows over real streams and real agents are in test_migration.py and tests/e2e.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import pytest

from controlplane.leader.migration_step import in_flight_lines, step
from controlplane.leader.migration_types import (
    CHECKPOINTING,
    FAILED,
    LOST,
    REQUESTED,
    RUNNING,
    STARTING,
    STOPPED,
    TRANSFERRING,
    Choice,
    Message,
    MigrationConfig,
    Move,
    NoRoom,
    Observations,
    Release,
    Start,
    TransferView,
)
from sdk.pb.aiwo.v1 import migration_pb2, node_pb2, types_pb2, workload_pb2

NOW = 1_000.0
CONFIG = MigrationConfig()
KEY = "default/train"


def workload(managed: bool = True) -> types_pb2.Workload:
    launch = types_pb2.LaunchSpec(command=["python", "train.py"]) if managed else None
    return types_pb2.Workload(uid="u1", spec=types_pb2.WorkloadSpec(launch=launch), priority=5)


def placement(node: str = "src", gpus: tuple[int, ...] = (0,)) -> types_pb2.PlacementRecord:
    return types_pb2.PlacementRecord(workload=KEY, node=node, gpus=gpus, placed_unix=10.0)


def record(phase: int, managed: bool = True, **fields: object) -> migration_pb2.Migration:
    m = migration_pb2.Migration(
        workload=KEY,
        uid="u1",
        source_node="src",
        source_gpus=[0],
        target_node="dst",
        target_gpus=[1],
        phase=phase,  # type: ignore[arg-type]
        managed=managed,
        requested_unix=NOW - 5,
        placed_unix=10.0,
        reason="rebalance",
    )
    for name, value in fields.items():
        setattr(m, name, value)
    return m


def ack(ok: bool = True, reason: str = "") -> types_pb2.CommandAck:
    return types_pb2.CommandAck(command_id="c0", ok=ok, reason=reason)


def exited(
    signal: str = "", outcome: str = "failed", kind: str = "exited"
) -> node_pb2.ProcessEvent:
    return node_pb2.ProcessEvent(
        workload=KEY, kind=kind, exit_code=1, signal=signal, outcome=outcome
    )


def fits(node: str, gpus: tuple[int, ...]) -> Callable[[], Choice]:
    return lambda: (node, gpus)


def full() -> Choice:
    return NoRoom("0/1 nodes fit: 1 insufficient GPUs")


@dataclass(frozen=True)
class Row:
    name: str
    m: migration_pb2.Migration
    obs: dict[str, object] = field(default_factory=dict)
    phase: int | None = None  # None: the record does not change
    orders: tuple[str, ...] = ()  # order class names, in order
    detail: str = ""  # a phrase of the new history entry
    managed: bool = True
    now: float = NOW


ON_SOURCE: dict[str, object] = {"placement": placement()}
ON_TARGET: dict[str, object] = {"placement": placement("dst", (1,))}

ROWS = [
    Row(
        "deregistered workload fails",
        record(CHECKPOINTING),
        {"workload": None},
        FAILED,
        ("ObserveDuration",),
        "deregistered",
    ),
    Row(
        "preempted under the migration fails",
        record(CHECKPOINTING),
        {"placement": placement("other")},
        FAILED,
        ("Message", "ObserveDuration"),
        "placement changed",
    ),
    Row(
        "managed, no app: SIGTERM to checkpoint",
        record(REQUESTED),
        ON_SOURCE,
        CHECKPOINTING,
        ("Stop", "Message"),
        "SIGTERM",
    ),
    Row(
        "managed, app attached: CHECKPOINT directive",
        record(REQUESTED),
        {**ON_SOURCE, "attached": True},
        CHECKPOINTING,
        ("SendDirective", "Message"),
        "CHECKPOINT directive sent",
    ),
    Row(
        "self-run, attached: move and MIGRATE",
        record(REQUESTED, managed=False),
        {**ON_SOURCE, "attached": True, "target": fits("dst", (1,))},
        STARTING,
        ("Move", "SendDirective"),
        "MIGRATE directive sent",
        managed=False,
    ),
    Row(
        "self-run, not attached: the placement is the message",
        record(REQUESTED, managed=False),
        {**ON_SOURCE, "target": fits("dst", (1,))},
        RUNNING,
        ("Move", "SendDirective", "Message"),
        "told when it attaches",
        managed=False,
    ),
    Row(
        "self-run, target full: fails",
        record(REQUESTED, managed=False),
        {**ON_SOURCE, "target": full},
        FAILED,
        ("Message", "ObserveDuration"),
        "no room on dst",
        managed=False,
    ),
    Row(
        "directive unanswered, before the deadline: wait",
        record(CHECKPOINTING, pending_directive="d1", phase_deadline_unix=NOW + 1),
        ON_SOURCE,
    ),
    Row(
        "directive unanswered past the deadline: fail, nothing to roll back",
        record(CHECKPOINTING, pending_directive="d1", phase_deadline_unix=NOW - 1),
        ON_SOURCE,
        FAILED,
        ("Message", "ObserveDuration"),
        "no answer to the CHECKPOINT directive",
    ),
    Row(
        "a new leader asks again under the same id",
        record(CHECKPOINTING, pending_directive="d1", phase_deadline_unix=NOW - 1),
        {**ON_SOURCE, "resumed": True},
        CHECKPOINTING,
        ("SendDirective",),
        "sent again",
    ),
    Row(
        "a new leader's grace holds the deadline off",
        record(CHECKPOINTING, pending_directive="d1", phase_deadline_unix=NOW - 1),
        {**ON_SOURCE, "deadline_floor_unix": NOW + 5},
    ),
    Row(
        "checkpoint acked: SIGTERM",
        record(CHECKPOINTING, pending_directive="d1"),
        {**ON_SOURCE, "directive_ack": workload_pb2.DirectiveAck(directive_id="d1", ok=True)},
        CHECKPOINTING,
        ("Stop",),
        "checkpointed; SIGTERM",
    ),
    Row(
        "the app could not checkpoint: fail",
        record(CHECKPOINTING, pending_directive="d1"),
        {**ON_SOURCE, "directive_ack": workload_pb2.DirectiveAck(ok=False, reason="disk full")},
        FAILED,
        ("Message", "ObserveDuration"),
        "disk full",
    ),
    Row(
        "stopped on the source",
        record(CHECKPOINTING, pending_command="c0"),
        {**ON_SOURCE, "result": ack()},
        STOPPED,
        (),
        "stopped on the source",
    ),
    Row(
        "killed after the grace: restart on the source",
        record(CHECKPOINTING, pending_command="c0"),
        {**ON_SOURCE, "result": ack(), "source_exit": exited(signal="SIGKILL")},
        FAILED,
        ("Start", "Message", "ObserveDuration"),
        "restarted on src",
    ),
    Row(
        "the stop never acked: restart on the source",
        record(CHECKPOINTING, pending_command="c0", phase_deadline_unix=NOW - 1),
        ON_SOURCE,
        FAILED,
        ("Start", "Message", "ObserveDuration"),
        "did not stop the workload in time",
    ),
    Row(
        "stopped: move and ask for the checkpoint",
        record(STOPPED),
        {**ON_SOURCE, "target": fits("dst", (1,))},
        TRANSFERRING,
        ("Move", "Upload"),
        "checkpoint requested",
    ),
    Row(
        "stopped, shared checkpoint root: start at once",
        record(STOPPED),
        {**ON_SOURCE, "target": fits("dst", (1,)), "shared_root": lambda t: "/mnt/ckpt/"},
        STARTING,
        ("Move", "Start"),
        "shared checkpoint directory /mnt/ckpt/default/train",
    ),
    Row(
        "stopped, target full: restart on the source",
        record(STOPPED),
        {**ON_SOURCE, "target": full},
        FAILED,
        ("Start", "Message", "ObserveDuration"),
        "no room on dst",
    ),
    Row(
        "transfer: a new leader has no copy, asks again",
        record(TRANSFERRING, pending_command="c0", transfer_id="c0"),
        ON_TARGET,
        TRANSFERRING,
        ("Upload",),
        "requested again",
    ),
    Row(
        "transfer: corrupt checkpoint moves back",
        record(TRANSFERRING, pending_command="c0", transfer_id="c0"),
        {
            **ON_TARGET,
            "transfer": TransferView(error="checkpoint is corrupt"),
            "room_on_source": fits("src", (0,)),
        },
        FAILED,
        ("DropTransfer", "Move", "Start", "Message", "DropTransfer", "ObserveDuration"),
        "checkpoint is corrupt; restarted on src",
    ),
    Row(
        "transfer: target gone too long moves back",
        record(TRANSFERRING, pending_command="c0", transfer_id="c0"),
        {
            **ON_TARGET,
            "target_absent_since_unix": NOW - CONFIG.target_lost_s,
            "room_on_source": fits("src", (0,)),
        },
        FAILED,
        ("Move", "Start", "Message", "DropTransfer", "ObserveDuration"),
        "went away during the transfer",
    ),
    Row(
        "transfer: the source has no room left: release, not restarted",
        record(TRANSFERRING, pending_command="c0", transfer_id="c0"),
        {**ON_TARGET, "transfer": TransferView(error="broken"), "room_on_source": full},
        FAILED,
        ("DropTransfer", "Release", "DropTransfer", "ObserveDuration"),
        "not restarted",
    ),
    Row(
        "transfer: complete but the target has no stream yet: wait",
        record(TRANSFERRING, pending_command="c0", transfer_id="c0", phase_deadline_unix=NOW - 1),
        {**ON_TARGET, "transfer": TransferView(complete=True), "forward_blocked": True},
    ),
    Row(
        "installed on the target: start there",
        record(TRANSFERRING, pending_command="c0", transfer_id="c0"),
        {
            **ON_TARGET,
            "result": ack(),
            "transfer": TransferView(complete=True, size_bytes=42, sha256="ab"),
            "installed": node_pb2.CheckpointInstalled(transfer_id="c0", ok=True, path="/ck"),
        },
        STARTING,
        ("DropTransfer", "Start", "Message"),
        "checkpoint installed at /ck (42 bytes)",
    ),
    Row(
        "start acked: remember when",
        record(STARTING, pending_command="c0"),
        {**ON_TARGET, "result": ack()},
        STARTING,
    ),
    Row(
        "settled on the target: done",
        record(STARTING, pending_command="c0", started_unix=NOW - CONFIG.settle_s),
        {**ON_TARGET, "result": ack()},
        RUNNING,
        ("Message", "ObserveDuration"),
        "runs on dst from its checkpoint",
    ),
    Row(
        "not settled yet: wait",
        record(STARTING, pending_command="c0", started_unix=NOW - 0.1),
        {**ON_TARGET, "result": ack()},
    ),
    Row(
        "finished on the target while settling: done, the exit goes to the lifecycle",
        record(STARTING, pending_command="c0", started_unix=NOW - 0.1),
        {**ON_TARGET, "result": ack(), "target_exit": exited(outcome="succeeded")},
        RUNNING,
        ("Message", "ObserveDuration", "ReportExit"),
        "runs on dst",
    ),
    Row(
        "crashed on the target: stop there, move back, restart on the source",
        record(STARTING, pending_command="c0", started_unix=NOW - 0.1),
        {
            **ON_TARGET,
            "result": ack(),
            "target_exit": exited(),
            "room_on_source": fits("src", (0,)),
        },
        FAILED,
        ("Stop", "Move", "Start", "Message", "ObserveDuration"),
        "exited with code 1 on dst right after the start",
    ),
    Row(
        "the start vanished from the log: send it again",
        record(STARTING, pending_command="c0"),
        {**ON_TARGET, "result": LOST},
        STARTING,
        ("Start",),
        "start sent again",
    ),
    Row(
        "self-run moved itself",
        record(STARTING, managed=False, pending_directive="d1"),
        {**ON_TARGET, "directive_ack": workload_pb2.DirectiveAck(directive_id="d1", ok=True)},
        RUNNING,
        ("Message", "ObserveDuration"),
        "moved itself to dst",
        managed=False,
    ),
    Row(
        "self-run could not move: placement back, PLACEMENT directive",
        record(STARTING, managed=False, pending_directive="d1"),
        {
            **ON_TARGET,
            "directive_ack": workload_pb2.DirectiveAck(ok=False, reason="busy"),
            "room_on_source": fits("src", (0,)),
        },
        FAILED,
        ("Move", "SendDirective", "Message", "ObserveDuration"),
        "could not move: busy",
        managed=False,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_step(row: Row) -> None:
    ids = (f"id{i}" for i in itertools.count())
    fields: dict[str, object] = {"workload": workload(row.managed), "placement": None}
    fields.update(row.obs)
    obs = Observations(new_id=lambda: next(ids), **fields)  # type: ignore[arg-type]
    before = migration_pb2.Migration()
    before.CopyFrom(row.m)
    new, orders, events = step(row.m, obs, row.now, CONFIG)
    assert row.m == before, "step must not change its input"
    if row.phase is None:
        assert new is None or new.history == row.m.history
        assert orders == [] and events == []
        return
    assert new is not None
    assert new.phase == row.phase
    assert [type(o).__name__ for o in orders] == list(row.orders)
    if row.detail:
        assert new.history, "a phase change is recorded in the history"
        assert row.detail in new.history[-1].detail
    if row.phase in (RUNNING, FAILED):
        assert not new.pending_command and not new.pending_directive
        assert events and events[-1].kind.startswith("migration_")
    if row.phase == FAILED:
        assert row.detail in new.error


def _lines(orders: Sequence[object]) -> list[Message | Move | Release]:
    """The orders that write the workload's status line, in order."""
    return [o for o in orders if isinstance(o, Message | Move | Release)]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_no_status_line_outlives_its_migration(row: Row) -> None:
    """A step that leaves the migration in flight writes only lines its ending replaces; a
    step that ends it leaves none of them behind, and overwrites only those (a line that
    someone else wrote since, such as "preempted", stays)."""
    ids = (f"id{i}" for i in itertools.count())
    fields: dict[str, object] = {"workload": workload(row.managed), "placement": None}
    fields.update(row.obs)
    obs = Observations(new_id=lambda: next(ids), **fields)  # type: ignore[arg-type]
    new, orders, _ = step(row.m, obs, row.now, CONFIG)
    if new is None:
        return
    written = _lines(orders)
    if new.phase not in (RUNNING, FAILED):
        for line in written:
            text = line.text if isinstance(line, Message) else line.message
            assert text in in_flight_lines(new), text
        return
    if obs.workload is None:
        return  # deregistered: no status line to fix
    last = written[-1]  # the line the workload is left with
    text = last.text if isinstance(last, Message) else last.message
    assert text not in in_flight_lines(new) and text not in in_flight_lines(row.m), text
    if isinstance(last, Message) and last.replacing is not None:
        assert last.replacing == in_flight_lines(row.m)


def test_the_record_names_its_commands_by_the_ids_given() -> None:
    ids = iter(["stop-1"])
    obs = Observations(workload=workload(), placement=placement(), new_id=lambda: next(ids))
    new, _, _ = step(record(REQUESTED), obs, NOW, CONFIG)
    assert new is not None and new.pending_command == "stop-1"
    assert new.phase_deadline_unix == NOW + CONFIG.checkpoint_grace_s + CONFIG.stop_timeout_s


def test_a_start_after_the_transfer_uses_the_installed_path() -> None:
    obs = Observations(
        workload=workload(),
        placement=placement("dst", (1,)),
        new_id=lambda: "start-1",
        result=ack(),
        transfer=TransferView(complete=True, size_bytes=3, sha256="ff"),
        installed=node_pb2.CheckpointInstalled(transfer_id="c0", ok=True, path="/ck/x"),
    )
    m = record(TRANSFERRING, pending_command="c0", transfer_id="c0")
    new, orders, _ = step(m, obs, NOW, CONFIG)
    starts = [o for o in orders if isinstance(o, Start)]
    assert starts == [Start("start-1", "dst", (1,), "/ck/x")]
    assert new is not None
    assert (new.checkpoint_path, new.checkpoint_bytes, new.checkpoint_sha256) == ("/ck/x", 3, "ff")


def test_a_deadline_counts_from_the_new_leaders_floor() -> None:
    m = record(STARTING, pending_command="c0", phase_deadline_unix=NOW - 1)
    base = Observations(workload=workload(), placement=placement("dst", (1,)), new_id=str)
    held = replace(base, deadline_floor_unix=NOW + 1)
    assert step(m, held, NOW, CONFIG)[0] is None
    moved_back = replace(base, room_on_source=fits("src", (0,)))
    new, _, _ = step(m, moved_back, NOW, CONFIG)
    assert new is not None and new.phase == FAILED and "did not start it" in new.error
