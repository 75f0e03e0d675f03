"""Migration's rules, pure: a record and what the world says in, the next record and orders out.

    step(record, observations, now, config) -> (record | None, commands, events)

No etcd, no streams, no clock, no randomness: the driver (controlplane/leader/migration.py)
gathers the observations, calls `step`, writes the new record and the commands in one fenced
transaction, then carries out what must follow the commit. The same split as auth/sweep.py
(rules) and auth/sweeper.py (I/O); tests/controlplane/test_migration_step.py tests the rules
as a table.

    REQUESTED -> CHECKPOINTING -> STOPPED -> TRANSFERRING -> STARTING_ON_TARGET -> RUNNING
                      any step fails -> FAILED, rolled back: the workload runs on the source
"""

from __future__ import annotations

from controlplane.leader.migration_types import (
    CHECKPOINTING,
    FAILED,
    REQUESTED,
    RUNNING,
    STARTING,
    STOPPED,
    TRANSFERRING,
    Command,
    DropTransfer,
    Event,
    Lost,
    Message,
    MigrationConfig,
    Move,
    NoRoom,
    Observations,
    ObserveDuration,
    Release,
    ReportExit,
    SendDirective,
    Start,
    Stop,
    Upload,
    advance,
    checkpoint_fields,
    event_of,
    exit_text,
    migrate_fields,
    phase_name,
)
from sdk.pb.aiwo.v1 import migration_pb2, types_pb2

Outcome = tuple[migration_pb2.Migration | None, list[Command], list[Event]]
NOTHING: Outcome = (None, [], [])


def step(
    m: migration_pb2.Migration, obs: Observations, now: float, config: MigrationConfig
) -> Outcome:
    """The next record of migration `m` (None: unchanged), the orders with it, its events."""
    workload = obs.workload
    if workload is None or workload.uid != m.uid:
        return _finish(m, obs, now, FAILED, "the workload was deregistered or replaced")
    placement = obs.placement
    where = m.target_node if m.phase in (TRANSFERRING, STARTING) else m.source_node
    if m.phase != STOPPED and (
        placement is None
        or placement.node != where
        or (m.placed_unix and placement.placed_unix != m.placed_unix)
    ):
        # Preempted, evicted or released under the migration: the optimizer owns it now.
        return _finish(
            m, obs, now, FAILED, "its placement changed meanwhile (preempted or evicted)"
        )
    rules = {
        REQUESTED: _begin,
        CHECKPOINTING: _checkpointing,
        STOPPED: _stopped,
        TRANSFERRING: _transferring,
        STARTING: _starting,
    }
    rule = rules.get(m.phase)
    return rule(m, obs, now, config) if rule else NOTHING


# ------------------------------------------------------------ the phases


def _begin(
    m: migration_pb2.Migration, obs: Observations, now: float, c: MigrationConfig
) -> Outcome:
    placement = obs.placement
    if placement is None or placement.node != m.source_node:
        return _finish(m, obs, now, FAILED, f"the workload no longer runs on {m.source_node}")
    commands: list[Command] = []
    if not m.managed:
        choice = obs.target()
        if isinstance(choice, NoRoom):
            return _finish(m, obs, now, FAILED, f"no room on {m.target_node}: {choice.reason}")
        node, gpus = choice
        commands.append(Move(node, gpus, moving_line(m.source_node, node)))
        deadline = now + c.directive_timeout_s
        directive = obs.new_id()
        fields = migrate_fields(m, node, gpus, placement.milli_gpu, deadline)
        commands.append(SendDirective(directive, fields))
        if not obs.attached:
            # Nobody to tell now: the record is the placement, and Attach sends it.
            done = advance(
                m, RUNNING, now, f"moved to {node}; the workload is told when it attaches",
                target_node=node, target_gpus=list(gpus), placed_unix=now,
            )  # fmt: skip
            text = f"migrated from {m.source_node} to {node}; it is told when it attaches"
            commands.append(Message(text))  # the move's "migrating …" is over already
            return done, commands, [event_of(done)]
        nxt = advance(
            m, STARTING, now, f"MIGRATE directive sent: move to {node}",
            target_node=node, target_gpus=list(gpus), placed_unix=now,
            pending_directive=directive, phase_deadline_unix=deadline,
        )  # fmt: skip
        return nxt, commands, [event_of(nxt)]
    if obs.attached:
        nxt = _checkpoint_directive(m, obs, now, c, commands, "CHECKPOINT directive sent")
    else:
        stop = _stop(obs, m.source_node, commands)
        nxt = advance(
            m, CHECKPOINTING, now,
            f"no SDK handler attached: SIGTERM, {c.checkpoint_grace_s:g}s to checkpoint",
            pending_command=stop, phase_deadline_unix=_stop_deadline(now, c),
        )  # fmt: skip
    commands.append(Message(checkpointing_line(m.target_node)))
    return nxt, commands, [event_of(nxt)]


def _checkpointing(
    m: migration_pb2.Migration, obs: Observations, now: float, c: MigrationConfig
) -> Outcome:
    commands: list[Command] = []
    if m.pending_directive:
        ack = obs.directive_ack
        if ack is None and obs.resumed:
            # The ack went to the previous leader, if anywhere: ask again.
            note = "CHECKPOINT directive sent again"
            nxt = _checkpoint_directive(m, obs, now, c, commands, note, m.pending_directive)
            return nxt, commands, []
        if ack is None:
            if now > _deadline(m, obs):
                why = f"no answer to the CHECKPOINT directive within {c.directive_timeout_s:g}s"
                return _fail(m, obs, now, why, "none")
            return NOTHING
        if not ack.ok:
            return _fail(m, obs, now, f"the workload could not checkpoint: {ack.reason}", "none")
        stop = _stop(obs, m.source_node, commands)
        nxt = advance(
            m, CHECKPOINTING, now, "checkpointed; SIGTERM to stop it",
            pending_directive="", pending_command=stop,
            phase_deadline_unix=_stop_deadline(now, c),
        )  # fmt: skip
        return nxt, commands, []
    result = obs.result
    if result is None:
        if now > _deadline(m, obs):
            why = f"{m.source_node} did not stop the workload in time"
            return _fail(m, obs, now, why, "restart_source")
        return NOTHING
    exit_event = obs.source_exit
    if exit_event is not None and exit_event.signal == "SIGKILL":
        why = (
            f"it did not exit within the {c.checkpoint_grace_s:g}s grace after "
            "SIGTERM and was killed: its checkpoint may be incomplete"
        )
        return _fail(m, obs, now, why, "restart_source")
    detail = "stopped on the source"
    if isinstance(result, types_pb2.CommandAck) and not result.ok:
        # It was not running there (crashed, or stopped before a leader change): whatever
        # checkpoint it left is what there is; the transfer checks it exists.
        detail = f"not running on the source ({result.reason})"
    # STOPPED never waits: the driver steps again at once, with fresh observations.
    nxt = advance(m, STOPPED, now, detail, pending_command="")
    return nxt, [], [event_of(nxt)]


def _stopped(
    m: migration_pb2.Migration, obs: Observations, now: float, c: MigrationConfig
) -> Outcome:
    placement = obs.placement
    if placement is None:
        return _finish(m, obs, now, FAILED, "the workload's placement was released")
    commands: list[Command] = []
    if placement.node == m.source_node:
        choice = obs.target()
        if isinstance(choice, NoRoom):
            why = f"no room on {m.target_node}: {choice.reason}"
            return _fail(m, obs, now, why, "restart_source")
        node, gpus = choice
        message = transferring_line(m.source_node, node)
        commands.append(Move(node, gpus, message))
        placed_unix = now
    else:
        # Moved before a leader change.
        node, gpus, placed_unix = placement.node, tuple(placement.gpus), placement.placed_unix
    shared = obs.shared_root(node)
    if shared:
        # Both nodes see the same checkpoint directory: nothing to move. The target's
        # agent refuses a start from a missing or empty one, which fails the migration.
        path = f"{shared.rstrip('/')}/{m.workload}"
        start = obs.new_id()
        commands.append(Start(start, node, gpus, path))
        nxt = advance(
            m, STARTING, now,
            f"placed on {node} GPUs {list(gpus)}; shared checkpoint directory {path}",
            target_node=node, target_gpus=list(gpus), pending_command=start,
            checkpoint_path=path, phase_deadline_unix=now + c.start_timeout_s,
            placed_unix=placed_unix,
        )  # fmt: skip
        return nxt, commands, [event_of(nxt)]
    upload = obs.new_id()
    commands.append(Upload(upload, m.source_node))
    nxt = advance(
        m, TRANSFERRING, now, f"placed on {node} GPUs {list(gpus)}; checkpoint requested",
        target_node=node, target_gpus=list(gpus), placed_unix=placed_unix,
        pending_command=upload, transfer_id=upload,
        phase_deadline_unix=now + c.transfer_timeout_s,
    )  # fmt: skip
    return nxt, commands, [event_of(nxt)]


def _transferring(
    m: migration_pb2.Migration, obs: Observations, now: float, c: MigrationConfig
) -> Outcome:
    if _target_lost(obs, now, c):
        why = f"target {m.target_node} went away during the transfer"
        return _fail(m, obs, now, why, "move_back")
    result, transfer = obs.result, obs.transfer
    if isinstance(result, types_pb2.CommandAck) and not result.ok:
        why = f"{m.source_node} could not send a checkpoint: {result.reason}"
        resume = "with no checkpoint to resume from: it starts over"
        return _fail(m, obs, now, why, "move_back", resume=resume)
    if transfer is None or (isinstance(result, Lost) and not transfer.complete):
        # A new leader holds no copy; or the request vanished: ask the source again.
        upload = obs.new_id()
        nxt = advance(
            m, TRANSFERRING, now, "checkpoint requested again",
            pending_command=upload, transfer_id=upload,
            phase_deadline_unix=max(m.phase_deadline_unix, now + c.transfer_timeout_s),
        )  # fmt: skip
        return nxt, [Upload(upload, m.source_node)], []
    if transfer.error:
        record, commands, events = _fail(m, obs, now, transfer.error, "move_back")
        return record, [DropTransfer(m.transfer_id), *commands], events
    if obs.forward_blocked:
        return NOTHING  # the target-lost rule decides when to give up
    installed = obs.installed
    if installed is None:
        if now > _deadline(m, obs):
            why = f"the checkpoint transfer took longer than {c.transfer_timeout_s:g}s"
            return _fail(m, obs, now, why, "move_back")
        return NOTHING
    dropped: list[Command] = [DropTransfer(m.transfer_id)]
    if not installed.ok:
        why = f"{m.target_node} could not install the checkpoint: {installed.reason}"
        record, commands, events = _fail(m, obs, now, why, "move_back")
        return record, [*dropped, *commands], events
    placement = obs.placement
    assert placement is not None  # step() checked it is on the target
    start = obs.new_id()
    commands = [
        *dropped,
        Start(start, placement.node, tuple(placement.gpus), installed.path),
        Message(starting_line(m.source_node, m.target_node)),
    ]
    nxt = advance(
        m, STARTING, now, f"checkpoint installed at {installed.path} ({transfer.size_bytes} bytes)",
        pending_command=start, checkpoint_path=installed.path,
        checkpoint_bytes=transfer.size_bytes, checkpoint_sha256=transfer.sha256,
        phase_deadline_unix=now + c.start_timeout_s,
    )  # fmt: skip
    return nxt, commands, [event_of(nxt)]


def _starting(
    m: migration_pb2.Migration, obs: Observations, now: float, c: MigrationConfig
) -> Outcome:
    if not m.managed:
        ack = obs.directive_ack
        if ack is not None and ack.ok:
            return _finish(m, obs, now, RUNNING, f"moved itself to {m.target_node}")
        if ack is not None:
            return _fail(m, obs, now, f"the workload could not move: {ack.reason}", "move_back")
        if now > _deadline(m, obs):
            why = f"no answer to the MIGRATE directive within {c.directive_timeout_s:g}s"
            return _fail(m, obs, now, why, "move_back")
        return NOTHING
    exit_event = obs.target_exit
    if exit_event is not None and exit_event.outcome != "succeeded":
        what = (
            f"start failed on {m.target_node}: {exit_event.detail}"
            if exit_event.kind == "start_failed"
            else f"{exit_text(exit_event)} on {m.target_node} right after the start"
            + (f" ({exit_event.detail})" if exit_event.detail else "")
        )
        return _fail(m, obs, now, what, "move_back")
    if _target_lost(obs, now, c):
        why = f"target {m.target_node} went away while starting"
        return _fail(m, obs, now, why, "move_back")
    result = obs.result
    if isinstance(result, types_pb2.CommandAck) and not result.ok:
        why = f"start on {m.target_node} failed: {result.reason}"
        return _fail(m, obs, now, why, "move_back")
    if isinstance(result, Lost) and not m.started_unix:
        placement = obs.placement
        assert placement is not None  # step() checked it is on the target
        # Idempotent on the agent: the same uid already running returns its pid.
        start = obs.new_id()
        gpus = tuple(placement.gpus)
        order = Start(start, placement.node, gpus, m.checkpoint_path, forget_exit=False)
        nxt = advance(m, STARTING, now, "start sent again", pending_command=start)
        return nxt, [order], []
    if result is None:
        if now > _deadline(m, obs):
            why = f"{m.target_node} did not start it within {c.start_timeout_s:g}s"
            return _fail(m, obs, now, why, "move_back")
        return NOTHING
    if not m.started_unix:
        started = migration_pb2.Migration()
        started.CopyFrom(m)
        started.started_unix = now
        started.updated_unix = now
        return started, [], []
    if exit_event is not None or now - m.started_unix >= c.settle_s:
        detail = f"runs on {m.target_node} from its checkpoint ({m.checkpoint_bytes} bytes)"
        record, commands, events = _finish(m, obs, now, RUNNING, detail)
        if exit_event is not None:  # it finished in the meantime: say so
            commands.append(ReportExit(m.target_node, exit_event))
        return record, commands, events
    return NOTHING


# ------------------------------------------------------------ endings


def _fail(
    m: migration_pb2.Migration,
    obs: Observations,
    now: float,
    error: str,
    rollback: str,
    resume: str = "from its own checkpoint",
) -> Outcome:
    """Record the failure and roll back in the same transaction.

    rollback "none": nothing was done to the workload yet. "restart_source": it is still
    placed on the source but may have stopped: start it there again (a no-op when it
    runs), from its own checkpoint. "move_back": the placement moved to the target; move
    it back and restart on the source from the checkpoint it left there."""
    workload, placement = obs.workload, obs.placement
    commands: list[Command] = []
    outcome = f"still on {m.source_node}"
    if workload is not None and placement is not None and rollback != "none":
        node, gpus = placement.node, tuple(placement.gpus)
        if rollback == "move_back" and node != m.source_node:
            if m.managed and m.phase == STARTING:
                _stop(obs, node, commands)
            # A draining source is cordoned: that keeps new work off, not its own.
            room = obs.room_on_source()
            if isinstance(room, NoRoom):
                # Starting it anywhere else would start it from no checkpoint: say so.
                stuck = (
                    f"migration to {m.target_node} failed ({error}) and "
                    f"{m.source_node} has no room left ({room.reason}); not restarted"
                )
                commands.append(Release(stuck))
                outcome = "not restarted: no room on the source"
                return _end(m, now, FAILED, f"{error}; {outcome}", commands)
            node, gpus = room
            message = f"migration to {m.target_node} failed: {error}; back on {node}"
            commands.append(Move(node, gpus, message))
            if not m.managed:
                fields: dict[str, object] = {
                    "kind": types_pb2.DIRECTIVE_KIND_PLACEMENT,
                    "node": node,
                    "gpus": list(gpus),
                    "milli_gpu": placement.milli_gpu,
                    "reason": message,
                }
                commands.append(SendDirective(obs.new_id(), fields))
        if m.managed and node == m.source_node:
            commands.append(Start(obs.new_id(), node, gpus, "", forget_exit=False))
            outcome = f"restarted on {m.source_node} {resume}"
    if workload is not None:
        commands.append(Message(f"migration to {m.target_node} failed: {error}; {outcome}"))
    return _end(m, now, FAILED, f"{error}; {outcome}", commands)


def _finish(
    m: migration_pb2.Migration, obs: Observations, now: float, phase: int, detail: str
) -> Outcome:
    commands: list[Command] = []
    if phase == RUNNING and obs.workload is not None:
        text = f"migrated from {m.source_node} to {m.target_node}"
        commands.append(Message(text, phase=types_pb2.WORKLOAD_PHASE_RUNNING))
    elif obs.workload is not None:
        # Ended under it (preempted, evicted, released, no room): its status line must not
        # go on saying "migrating …", but what whoever ended it wrote there stays.
        text = f"migration to {m.target_node} failed: {detail}"
        commands.append(Message(text, replacing=in_flight_lines(m)))
    return _end(m, now, phase, detail, commands)


# ------------------------------------------------------------ status lines
# What a migration in flight writes on its workload; each ending replaces them.


def moving_line(source: str, target: str) -> str:
    return f"migrating from {source} to {target}"


def checkpointing_line(target: str) -> str:
    return f"migrating to {target}: checkpointing"


def transferring_line(source: str, target: str) -> str:
    return f"migrating from {source} to {target}: transferring the checkpoint"


def starting_line(source: str, target: str) -> str:
    return f"migrating from {source} to {target}: starting"


def in_flight_lines(m: migration_pb2.Migration) -> frozenset[str]:
    source, target = m.source_node, m.target_node
    return frozenset(
        {
            moving_line(source, target),
            checkpointing_line(target),
            transferring_line(source, target),
            starting_line(source, target),
        }
    )


def _end(
    m: migration_pb2.Migration, now: float, phase: int, detail: str, commands: list[Command]
) -> Outcome:
    changes: dict[str, object] = {"pending_command": "", "pending_directive": ""}
    if phase == FAILED:
        changes["error"] = detail
    done = advance(m, phase, now, detail, **changes)
    if m.transfer_id:
        commands.append(DropTransfer(m.transfer_id))
    commands.append(ObserveDuration(phase_name(phase), max(now - m.requested_unix, 0)))
    return done, commands, [event_of(done)]


# ------------------------------------------------------------ building blocks


def _checkpoint_directive(
    m: migration_pb2.Migration,
    obs: Observations,
    now: float,
    c: MigrationConfig,
    commands: list[Command],
    note: str,
    directive_id: str = "",
) -> migration_pb2.Migration:
    """Ask the attached app to checkpoint; the record waits for its ack (or the deadline)."""
    deadline = now + c.directive_timeout_s
    directive = directive_id or obs.new_id()
    commands.append(SendDirective(directive, checkpoint_fields(m, deadline)))
    return advance(
        m, CHECKPOINTING, now, note, pending_directive=directive, phase_deadline_unix=deadline
    )


def _stop(obs: Observations, node: str, commands: list[Command]) -> str:
    command_id = obs.new_id()
    commands.append(Stop(command_id, node))
    return command_id


def _target_lost(obs: Observations, now: float, c: MigrationConfig) -> bool:
    since = obs.target_absent_since_unix
    return since is not None and now - since >= c.target_lost_s


def _deadline(m: migration_pb2.Migration, obs: Observations) -> float:
    return max(m.phase_deadline_unix, obs.deadline_floor_unix)


def _stop_deadline(now: float, c: MigrationConfig) -> float:
    return now + c.checkpoint_grace_s + c.stop_timeout_s
