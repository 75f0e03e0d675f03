"""Migration: move a running workload to another node, from its checkpoint, or roll back.

A controller-driven state machine whose record lives in etcd (migrations/{ns}/{name}), written
with the leader's fenced transactions together with the commands of each step, so a new leader
resumes it from there (docs/migration.md):

    REQUESTED -> CHECKPOINTING -> STOPPED -> TRANSFERRING -> STARTING_ON_TARGET -> RUNNING
                      any step fails -> FAILED, rolled back: the workload runs on the source

Managed workloads (the agent runs them) are checkpointed by a CHECKPOINT directive when their
application is attached, then stopped with SIGTERM and a grace period (a workload without an
SDK handler checkpoints on SIGTERM); the source agent sends the checkpoint directory through
this controller to the target agent (checksummed, bounded), which installs it; the target
starts the workload from it and must keep it alive for a settle time. Workloads that run
themselves (attached, no launch spec) get a MIGRATE directive and move themselves.

This module is the driver: it keeps what the streams say (acks, exits, checkpoints), runs
the leader's loop, and for each migration in flight gathers the observations, asks the pure
rules (migration_step.step) for the next record, commits it with its commands in one fenced
transaction, and relays the checkpoint. Admission and target choice are migration_admission,
draining a node is drain.

`Migrations.request` is the entry point for operators (`aiwo migrate`), `drain`, and the
optimizer's runtime; `run` is the leader's loop that drives every migration in flight.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from typing import Any

import structlog

from controlplane.etcd.cache import PrefixCache
from controlplane.etcd.keys import Keys
from controlplane.etcd.store import EtcdStore, FencingError, Write
from controlplane.leader.decisions import Batch, Decisions
from controlplane.leader.lifecycle import on_process_event as lifecycle_event
from controlplane.leader.messages import assign_workload, start_workload
from controlplane.leader.migration_admission import (
    MigrationRefused,
    admit,
    retarget,
    room_on_source,
)
from controlplane.leader.migration_step import step
from controlplane.leader.migration_types import (
    CHECKPOINTING,
    LOST,
    STARTING,
    STOPPED,
    TERMINAL,
    TRANSFERRING,
    Command,
    CommandResult,
    DropTransfer,
    Event,
    Message,
    MigrationConfig,
    Move,
    Observations,
    ObserveDuration,
    Release,
    ReportExit,
    SendDirective,
    Start,
    Stop,
    TransferView,
    Upload,
    checkpoint_fields,
    migrate_fields,
)
from controlplane.leader.relays import CheckpointRelay
from controlplane.optimizer import OptimizerConfig
from controlplane.rpc.metrics import MIGRATION_DURATION
from controlplane.view.cluster import ClusterState
from controlplane.view.sessions import Sessions
from sdk.pb.aiwo.v1 import migration_pb2, node_pb2, types_pb2, workload_pb2

__all__ = ["SHARED_CHECKPOINTS_LABEL", "MigrationConfig", "MigrationRefused", "Migrations"]

log = structlog.get_logger("aiwo.migration")

_REMEMBERED = 4096  # acks kept for steps that have not looked yet
# Agents with a shared checkpoint root say so with this node label (nodeagent/agent.py).
SHARED_CHECKPOINTS_LABEL = "aiwo.dev/shared-checkpoints"


class Migrations:
    def __init__(
        self,
        store: EtcdStore,
        keys: Keys,
        state: ClusterState,
        decisions: Decisions,
        sessions: Sessions,
        optimizer_config: OptimizerConfig,
        config: MigrationConfig | None = None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.state = state
        self.decisions = decisions
        self.sessions = sessions
        self.optimizer_config = optimizer_config
        self.config = config or MigrationConfig()
        # Every replica keeps the records (reads are served anywhere); only the leader steps.
        self.cache: PrefixCache[migration_pb2.Migration] = PrefixCache(
            store, keys.migrations, migration_pb2.Migration
        )
        self.relay = CheckpointRelay(self.config.max_checkpoint_bytes)
        self._wake = asyncio.Event()
        self._reset()

    def _reset(self) -> None:
        """What a leadership term learns from the streams; a new term starts blank."""
        self._acks: OrderedDict[str, types_pb2.CommandAck] = OrderedDict()
        self._directive_acks: OrderedDict[str, workload_pb2.DirectiveAck] = OrderedDict()
        self._exits: dict[tuple[str, str], node_pb2.ProcessEvent] = {}
        self._installed: dict[str, node_pb2.CheckpointInstalled] = {}
        self._forwarded: set[str] = set()
        self._lost_since: dict[str, float] = {}
        self._resume: set[str] = set()
        self._floor = 0.0  # deadlines are at least this (set when a term starts)

    # ------------------------------------------------------------ queries

    def active(self, key: str) -> migration_pb2.Migration | None:
        record = self.cache.get(key)
        if record is None or record.phase in TERMINAL:
            return None
        return record

    def owns(self, key: str) -> bool:
        """Whether a migration drives this workload now (its process news are the
        migration's, not the workload lifecycle's)."""
        return self.active(key) is not None

    def holds_start(self, key: str) -> bool:
        """Whether a reconnecting agent's assignment set must leave the workload stopped:
        from the stop on the source until the target has its checkpoint, a start would run
        it twice or from no checkpoint at all."""
        record = self.active(key)
        if record is None or not record.managed:
            return False
        if record.phase == CHECKPOINTING:
            return bool(record.pending_command)  # the stop has been sent
        return record.phase in (STOPPED, TRANSFERRING)

    # ------------------------------------------------------------ what the streams say

    def on_ack(self, node: str, ack: types_pb2.CommandAck) -> None:
        self._acks[ack.command_id] = ack
        _bound(self._acks)
        self._wake.set()

    def unanswered_directive(self, key: str, now: float) -> types_pb2.Directive | None:
        """The directive a migration of `key` still waits on, under its own id, for an app that
        (re-)attaches: its stream may have dropped before the directive or its ack got
        through. None when nothing waits on the app."""
        m = self.cache.get(key)
        if m is None or not m.pending_directive or m.pending_directive in self._directive_acks:
            return None
        if m.phase == CHECKPOINTING:
            fields = checkpoint_fields(m, m.phase_deadline_unix)
        elif m.phase == STARTING and not m.managed:
            placement = self.state.placements.get(key)
            milli = placement.milli_gpu if placement else 0
            fields = migrate_fields(m, m.target_node, m.target_gpus, milli, m.phase_deadline_unix)
        else:
            return None
        return types_pb2.Directive(
            id=m.pending_directive,
            workload=key,
            time_unix=now,
            **fields,  # type: ignore[arg-type]
        )

    def on_directive_ack(self, workload: str, ack: workload_pb2.DirectiveAck) -> None:
        self._directive_acks[ack.directive_id] = ack
        _bound(self._directive_acks)
        self._wake.set()

    def on_process_event(self, node: str, event: node_pb2.ProcessEvent) -> bool:
        """Record an exit; True when a migration owns the workload (the caller then leaves
        its phase alone)."""
        if event.kind in ("exited", "start_failed"):
            self._exits[(node, event.workload)] = event
            self._wake.set()
        return self.owns(event.workload)

    def on_checkpoint_chunk(self, node: str, chunk: node_pb2.CheckpointChunk) -> None:
        self.relay.on_chunk(node, chunk)
        if chunk.last:
            self._wake.set()

    def on_checkpoint_installed(self, node: str, message: node_pb2.CheckpointInstalled) -> None:
        record = self.active(message.workload)
        if record is None or record.transfer_id != message.transfer_id:
            return
        if node != record.target_node:
            log.warning("checkpoint_installed_refused", node=node, target=record.target_node)
            return
        self._installed[message.transfer_id] = message
        self._wake.set()

    # ------------------------------------------------------------ requests

    async def request(
        self,
        key: str,
        target: str | None = None,
        reason: str = "",
        requested_by: str = "operator",
        now: float | None = None,
    ) -> migration_pb2.Migration:
        """Start moving `key` to `target` (None: the best other node the policy finds).

        Raises MigrationRefused with the reason when it cannot start, FencingError when this
        controller does not lead. The optimizer's runtime calls this for its Migrate action."""
        now = time.time() if now is None else now
        record = admit(
            self.state,
            self.optimizer_config,
            key,
            self.active(key),
            target,
            reason,
            requested_by,
            now,
        )
        await self._commit(Batch(), key, record, [])
        self.decisions.events.emit(
            "migration_requested",
            f"workload/{key}",
            f"migrate from {record.source_node} to {record.target_node}: {record.reason}",
            now,
            source=record.source_node,
            target=record.target_node,
            requested_by=requested_by,
        )
        self._wake.set()
        return record

    # ------------------------------------------------------------ the leader's loop

    async def run(self) -> None:
        """Drive every migration in flight while this controller leads."""
        self._reset()
        self._floor = time.time() + self.config.resume_grace_s
        self._resume = {key for key, record in self.cache.items() if record.phase not in TERMINAL}
        if self._resume:
            log.info("migrations_resumed", workloads=",".join(sorted(self._resume)))
        while self.store.epoch > 0:
            try:
                await asyncio.wait_for(self._wake.wait(), self.config.interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
            for key, record in self.cache.items():
                if record.phase in TERMINAL:
                    continue
                try:
                    await self._drive(key, record, time.time())
                except FencingError as exc:
                    log.warning("leadership_lost", error=str(exc))
                    return
                except Exception as exc:  # keep the loop alive; the next pass retries
                    log.exception("migration_step_failed", workload=key, error=str(exc))
                    await asyncio.sleep(0.2)

    async def _drive(self, key: str, m: migration_pb2.Migration, now: float) -> None:
        """One step of one migration: observe, decide (pure), commit, then carry out."""
        while True:
            resumed = key in self._resume
            self._resume.discard(key)
            record, commands, events = step(
                m, self._observe(key, m, now, resumed), now, self.config
            )
            if record is None:
                return
            workload = self.state.workloads.get(key)
            batch = Batch()
            if workload is not None:
                self._stage(batch, key, workload, commands, now)
            await self._commit(batch, key, record, events, now)
            await self._after_commit(key, record, commands, now)
            # STOPPED never waits: on to the transfer in the same pass, as one step did.
            if record.phase != STOPPED or m.phase == STOPPED:
                return
            m = record

    def _observe(
        self, key: str, m: migration_pb2.Migration, now: float, resumed: bool
    ) -> Observations:
        """What the step reads: the cluster view, the streams' news, the relay."""
        waits_on = m.target_node if m.phase == STARTING else m.source_node
        transfer: TransferView | None = None
        forward_blocked = False
        installed = None
        absent_since = None
        if m.phase in (TRANSFERRING, STARTING):
            absent_since = self._target_absent_since(key, m, now)
        if m.phase == TRANSFERRING:
            relayed = self.relay.get(m.transfer_id)
            if relayed is not None:
                transfer = TransferView(
                    relayed.complete, relayed.error, len(relayed.data), relayed.sha256
                )
                forward_blocked = not relayed.error and not self._relay(key, m)
                if not forward_blocked:
                    installed = self._installed.pop(m.transfer_id, None)
        return Observations(
            workload=self.state.workloads.get(key),
            placement=self.state.placements.get(key),
            new_id=lambda: _command_id(now),
            attached=bool(self.sessions.apps.get(key)),
            resumed=resumed,
            deadline_floor_unix=self._floor,
            directive_ack=self._directive_acks.get(m.pending_directive)
            if m.pending_directive
            else None,
            result=self._result(waits_on, m.pending_command),
            source_exit=self._exits.get((m.source_node, key)),
            target_exit=self._exits.get((m.target_node, key)),
            transfer=transfer,
            forward_blocked=forward_blocked,
            installed=installed,
            target_absent_since_unix=absent_since,
            target=lambda: retarget(self.state, self.optimizer_config, m),
            room_on_source=lambda: room_on_source(self.state, self.optimizer_config, m),
            shared_root=lambda target: self._shared_root(m.source_node, target),
        )

    def _relay(self, key: str, m: migration_pb2.Migration) -> bool:
        """Queue a complete checkpoint to the target once; False while it cannot be."""
        transfer = self.relay.get(m.transfer_id)
        if transfer is None or not transfer.complete or m.transfer_id in self._forwarded:
            return True
        session = self.sessions.agent(m.target_node)
        if session is None or not self.relay.forward(m.transfer_id, session):
            return False
        self._forwarded.add(m.transfer_id)
        log.info(
            "checkpoint_forwarded",
            workload=key,
            target=m.target_node,
            bytes=len(transfer.data),
            sha256=transfer.sha256[:16],
        )
        return True

    # ------------------------------------------------------------ carrying out

    def _stage(
        self,
        batch: Batch,
        key: str,
        workload: types_pb2.Workload,
        commands: list[Command],
        now: float,
    ) -> None:
        """The step's orders that go into its transaction."""
        placement = self.state.placements.get(key)
        for command in commands:
            if isinstance(command, Move):
                assert placement is not None
                placement = self._move(batch, key, workload, placement, command, now)
            elif isinstance(command, Release):
                assert placement is not None
                self._release(batch, key, workload, placement, now, command.message)
            elif isinstance(command, Stop):
                self._exits.pop((command.node, key), None)  # only the exit this stop causes
                stop = types_pb2.StopWorkload(workload=key, grace_s=self.config.checkpoint_grace_s)
                self.decisions.stage_command(
                    batch, command.node, now, command_id=command.id, stop_workload=stop
                )
            elif isinstance(command, Upload):
                upload = types_pb2.CheckpointWorkload(workload=key)
                self.decisions.stage_command(
                    batch, command.node, now, command_id=command.id, checkpoint_workload=upload
                )
                self.relay.expect(command.id, key, command.node)
            elif isinstance(command, Start):
                if command.forget_exit:
                    self._exits.pop((command.node, key), None)
                where = types_pb2.PlacementRecord(
                    workload=key, node=command.node, gpus=command.gpus
                )
                start = start_workload(workload, where, command.checkpoint_dir)
                self.decisions.stage_command(
                    batch, command.node, now, command_id=command.id, start_workload=start
                )
            elif isinstance(command, SendDirective):
                self.decisions.stage_directive(batch, key, now, command.id, **command.fields)
            elif isinstance(command, Message):
                self._stage_message(
                    batch, key, workload, command.text, command.phase, command.replacing
                )

    async def _after_commit(
        self, key: str, record: migration_pb2.Migration, commands: list[Command], now: float
    ) -> None:
        for command in commands:
            if isinstance(command, DropTransfer):
                self.relay.drop(command.transfer_id)
            elif isinstance(command, ObserveDuration):
                MIGRATION_DURATION.labels(result=command.result).observe(command.seconds)
            elif isinstance(command, ReportExit):
                await lifecycle_event(self.state, self.decisions, command.node, command.event, now)
        if record.phase in TERMINAL:
            self._lost_since.pop(key, None)

    def _move(
        self,
        batch: Batch,
        key: str,
        workload: types_pb2.Workload,
        placement: types_pb2.PlacementRecord,
        move: Move,
        now: float,
    ) -> types_pb2.PlacementRecord:
        """The placement moves; the GPU accounting follows. No start: the migration says when."""
        record = types_pb2.PlacementRecord()
        record.CopyFrom(placement)
        record.node = move.node
        record.gpus[:] = move.gpus
        record.placed_unix = now
        record.reason = move.message
        self.decisions.stage_placement(batch, key, record)
        updated = types_pb2.Workload()
        updated.CopyFrom(workload)
        updated.node = move.node
        updated.gpus[:] = move.gpus
        updated.milli_gpu = record.milli_gpu
        updated.placed_unix = now
        updated.message = move.message
        self.decisions.stage_workload(batch, key, updated)
        unassign = types_pb2.UnassignWorkload(workload=key)
        self.decisions.stage_command(batch, placement.node, now, unassign_workload=unassign)
        assign = assign_workload(workload, record)
        self.decisions.stage_command(batch, move.node, now, assign_workload=assign)
        return record

    def _release(
        self,
        batch: Batch,
        key: str,
        workload: types_pb2.Workload,
        placement: types_pb2.PlacementRecord,
        now: float,
        message: str,
    ) -> None:
        self.decisions.stage_placement(batch, key, None)
        self.decisions.stage_command(
            batch, placement.node, now, unassign_workload=types_pb2.UnassignWorkload(workload=key)
        )
        updated = types_pb2.Workload()
        updated.CopyFrom(workload)
        updated.phase = types_pb2.WORKLOAD_PHASE_FAILED
        updated.message = message
        self.decisions.stage_workload(batch, key, updated)

    def _stage_message(
        self,
        batch: Batch,
        key: str,
        workload: types_pb2.Workload,
        message: str,
        phase: int | None = None,
        replacing: frozenset[str] | None = None,
    ) -> None:
        # A workload staged earlier in this batch (a move) is the one to amend.
        for cache_name, suffix, staged in reversed(batch.cache_updates):
            if cache_name == "workloads" and suffix == key and staged is not None:
                workload = staged  # type: ignore[assignment]
                break
        if replacing is not None and workload.message not in replacing:
            return  # someone else's line since (e.g. "preempted"): theirs to keep
        updated = types_pb2.Workload()
        updated.CopyFrom(workload)
        updated.message = message
        if phase is not None:
            updated.phase = phase  # type: ignore[assignment]
        if updated != workload:
            self.decisions.stage_workload(batch, key, updated)

    async def _commit(
        self,
        batch: Batch,
        key: str,
        record: migration_pb2.Migration,
        events: list[Event],
        now: float = 0.0,
    ) -> None:
        """Write the batch with the migration's new record, then emit the step's events."""
        batch.writes.append(Write(self.keys.migration(key), record.SerializeToString()))
        # A step may amend what it staged (a move, then the message): etcd refuses a key
        # twice in one transaction, and the last write is the one meant.
        last = {write.key: i for i, write in enumerate(batch.writes)}
        batch.writes[:] = [w for i, w in enumerate(batch.writes) if last[w.key] == i]
        await self.decisions.commit(batch)
        self.cache.apply_local(key, record)
        for event in events:
            self.decisions.events.emit(
                event.kind, f"workload/{key}", event.message, now, **event.fields
            )

    # ------------------------------------------------------------ observations

    def _result(self, node: str, command_id: str) -> CommandResult:
        """The ack of a command, LOST when it left the log unseen, None while pending."""
        ack = self._acks.get(command_id)
        if ack is not None:
            return ack
        if f"{node}/{command_id}" not in self.state.commands:
            return LOST
        return None

    def _shared_root(self, source: str, target: str) -> str:
        """The checkpoint root both nodes mount at the same path, or ""."""
        roots = []
        for name in (source, target):
            node = self.state.nodes.get(name)
            roots.append(node.info.labels.get(SHARED_CHECKPOINTS_LABEL, "") if node else "")
        return roots[0] if roots[0] and roots[0] == roots[1] else ""

    def _target_absent_since(
        self, key: str, m: migration_pb2.Migration, now: float
    ) -> float | None:
        node = self.state.nodes.get(m.target_node)
        present = (
            node is not None
            and node.state == types_pb2.NODE_STATE_READY
            and self.sessions.agent(m.target_node) is not None
        )
        if present:
            self._lost_since.pop(key, None)
            return None
        return self._lost_since.setdefault(key, now)


def _command_id(now: float) -> str:
    """Command ids sort by time in the command log (decisions.stage_command's form)."""
    return f"{int(now * 1000):013d}-{uuid.uuid4().hex[:8]}"


def _bound(items: OrderedDict[str, Any]) -> None:
    while len(items) > _REMEMBERED:
        items.popitem(last=False)
