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

`Migrations.request` is the entry point for operators (`aiwo migrate`), `drain`, and the
optimizer's runtime; `run` is the leader's loop that drives every migration in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from controlplane.etcd.cache import PrefixCache
from controlplane.etcd.keys import Keys
from controlplane.etcd.store import EtcdStore, FencingError, Write
from controlplane.leader.decisions import Batch, Decisions
from controlplane.leader.lifecycle import exit_text
from controlplane.leader.lifecycle import on_process_event as lifecycle_event
from controlplane.leader.messages import assign_workload, start_workload
from controlplane.leader.migration_target import NoTarget, choose_target
from controlplane.leader.relays import CheckpointRelay
from controlplane.optimizer import OptimizerConfig
from controlplane.rpc.metrics import MIGRATION_DURATION
from controlplane.view.cluster import ClusterState
from controlplane.view.sessions import Sessions
from sdk.pb.aiwo.v1 import migration_pb2, node_pb2, types_pb2, workload_pb2

log = structlog.get_logger("aiwo.migration")

Phase = migration_pb2.MigrationPhase
REQUESTED = migration_pb2.MIGRATION_PHASE_REQUESTED
CHECKPOINTING = migration_pb2.MIGRATION_PHASE_CHECKPOINTING
STOPPED = migration_pb2.MIGRATION_PHASE_STOPPED
TRANSFERRING = migration_pb2.MIGRATION_PHASE_TRANSFERRING
STARTING = migration_pb2.MIGRATION_PHASE_STARTING_ON_TARGET
RUNNING = migration_pb2.MIGRATION_PHASE_RUNNING
FAILED = migration_pb2.MIGRATION_PHASE_FAILED
TERMINAL = frozenset({RUNNING, FAILED})

_REMEMBERED = 4096  # acks kept for steps that have not looked yet
# Agents with a shared checkpoint root say so with this node label (nodeagent/agent.py).
SHARED_CHECKPOINTS_LABEL = "aiwo.dev/shared-checkpoints"


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


class MigrationRefused(Exception):
    """A migration that cannot start; `not_found` tells a missing object from a bad state."""

    def __init__(self, reason: str, not_found: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.not_found = not_found


class _Lost:
    """A command that left the command log without an ack this leader saw (a previous
    leader got it, or it expired): its outcome is unknown."""


LOST = _Lost()


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
            fields = _checkpoint_fields(m, m.phase_deadline_unix)
        elif m.phase == STARTING and not m.managed:
            placement = self.state.placements.get(key)
            milli = placement.milli_gpu if placement else 0
            fields = _migrate_fields(m, m.target_node, m.target_gpus, milli, m.phase_deadline_unix)
        else:
            return None
        return types_pb2.Directive(id=m.pending_directive, workload=key, time_unix=now, **fields)

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
        workload = self.state.workloads.get(key)
        if workload is None:
            raise MigrationRefused(f"workload {key} not found", not_found=True)
        placement = self.state.placements.get(key)
        if placement is None:
            raise MigrationRefused(f"workload {key} is not placed ({_phase_name(workload)})")
        current = self.active(key)
        if current is not None:
            raise MigrationRefused(
                f"workload {key} is already migrating to {current.target_node} "
                f"({_name(current.phase)})"
            )
        if target:
            if self.state.nodes.get(target) is None:
                raise MigrationRefused(f"node {target} not found", not_found=True)
            if target == placement.node:
                raise MigrationRefused(f"workload {key} already runs on {target}")
        try:
            if target:
                node, gpus = choose_target(self.state, self.optimizer_config, key, only=target)
            else:
                node, gpus = choose_target(
                    self.state, self.optimizer_config, key, exclude=placement.node
                )
        except NoTarget as exc:
            where = f"node {target} cannot" if target else "no other node can"
            raise MigrationRefused(f"{where} take {key}: {exc}") from None
        why = reason or "requested"
        record = migration_pb2.Migration(
            workload=key,
            uid=workload.uid,
            source_node=placement.node,
            source_gpus=list(placement.gpus),
            target_node=node,
            target_gpus=list(gpus),
            milli_gpu=placement.milli_gpu,
            phase=REQUESTED,
            reason=why,
            managed=bool(workload.spec.launch.command),
            target_fixed=bool(target),
            requested_by=requested_by,
            requested_unix=now,
            updated_unix=now,
            history=[migration_pb2.MigrationStep(phase=REQUESTED, time_unix=now, detail=why)],
            placed_unix=placement.placed_unix,
        )
        batch = Batch()
        await self._commit(batch, key, record)
        self.decisions.events.emit(
            "migration_requested",
            f"workload/{key}",
            f"migrate from {placement.node} to {node}: {why}",
            now,
            source=placement.node,
            target=node,
            requested_by=requested_by,
        )
        self._wake.set()
        return record

    async def drain(
        self, node_name: str, reason: str = "", now: float | None = None
    ) -> tuple[types_pb2.Node, list[migration_pb2.Migration], dict[str, str]]:
        """Cordon the node, then migrate every workload off it. Returns the node, the
        migrations under way, and the workloads that cannot move (with why)."""
        now = time.time() if now is None else now
        node = self.state.nodes.get(node_name)
        if node is None:
            raise MigrationRefused(f"node {node_name} not found", not_found=True)
        why = f"draining {node_name}" + (f": {reason}" if reason else "")
        if not node.cordoned:
            updated = types_pb2.Node()
            updated.CopyFrom(node)
            updated.cordoned = True
            updated.reason = why
            await self.decisions.commit_node(updated)
            self.decisions.events.emit("node_cordoned", f"node/{node_name}", why, now)
            node = updated
        moving: list[migration_pb2.Migration] = []
        skipped: dict[str, str] = {}
        for placement in sorted(self.state.node_workloads(node_name), key=lambda p: p.workload):
            current = self.active(placement.workload)
            if current is not None and current.source_node == node_name:
                moving.append(current)
                continue
            try:
                moving.append(await self.request(placement.workload, None, why, "drain", now))
            except MigrationRefused as exc:
                skipped[placement.workload] = exc.reason
        return node, moving, skipped

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
                    await self._step(key, record, time.time())
                except FencingError as exc:
                    log.warning("leadership_lost", error=str(exc))
                    return
                except Exception as exc:  # keep the loop alive; the next pass retries
                    log.exception("migration_step_failed", workload=key, error=str(exc))
                    await asyncio.sleep(0.2)

    async def _step(self, key: str, m: migration_pb2.Migration, now: float) -> None:
        workload = self.state.workloads.get(key)
        if workload is None or workload.uid != m.uid:
            await self._finish(key, m, now, FAILED, "the workload was deregistered or replaced")
            return
        resumed = key in self._resume
        self._resume.discard(key)
        placement = self.state.placements.get(key)
        where = m.target_node if m.phase in (TRANSFERRING, STARTING) else m.source_node
        if m.phase != STOPPED and (
            placement is None
            or placement.node != where
            or (m.placed_unix and placement.placed_unix != m.placed_unix)
        ):
            # Preempted, evicted or released under the migration: the optimizer owns it now.
            await self._finish(
                key, m, now, FAILED, "its placement changed meanwhile (preempted or evicted)"
            )
            return
        if m.phase == REQUESTED:
            await self._begin(key, m, workload, now)
        elif m.phase == CHECKPOINTING:
            await self._checkpointing(key, m, workload, now, resumed)
        elif m.phase == STOPPED:
            await self._stopped(key, m, workload, now)
        elif m.phase == TRANSFERRING:
            await self._transferring(key, m, workload, now)
        elif m.phase == STARTING:
            await self._starting(key, m, workload, now)

    # ------------------------------------------------------------ the steps

    async def _begin(
        self, key: str, m: migration_pb2.Migration, workload: types_pb2.Workload, now: float
    ) -> None:
        placement = self.state.placements.get(key)
        if placement is None or placement.node != m.source_node:
            await self._finish(
                key, m, now, FAILED, f"the workload no longer runs on {m.source_node}"
            )
            return
        batch = Batch()
        attached = bool(self.sessions.apps.get(key))
        if not m.managed:
            try:
                node, gpus = self._target(key, m)
            except NoTarget as exc:
                await self._finish(key, m, now, FAILED, f"no room on {m.target_node}: {exc}")
                return
            moved = self._move(
                batch,
                key,
                workload,
                placement,
                node,
                gpus,
                now,
                f"migrating from {m.source_node} to {node}",
            )
            deadline = now + self.config.directive_timeout_s
            self.decisions.stage_directive(
                batch, key, now, **_migrate_fields(m, node, gpus, placement.milli_gpu, deadline)
            )
            if not attached:
                # Nobody to tell now: the record is the placement, and Attach sends it.
                done = _advance(
                    m,
                    RUNNING,
                    now,
                    f"moved to {node}; the workload is told when it attaches",
                    target_node=node,
                    target_gpus=list(gpus),
                    placed_unix=moved.placed_unix,
                )
                await self._commit(batch, key, done, now)
                return
            nxt = _advance(
                m,
                STARTING,
                now,
                f"MIGRATE directive sent: move to {node}",
                target_node=node,
                target_gpus=list(gpus),
                placed_unix=moved.placed_unix,
                pending_directive=batch.directives[-1].id,
                phase_deadline_unix=now + self.config.directive_timeout_s,
            )
            await self._commit(batch, key, nxt, now)
            return
        if attached:
            nxt = self._stage_checkpoint_directive(batch, key, m, now, "CHECKPOINT directive sent")
        else:
            stop_id = self._stage_stop(batch, key, m.source_node, now)
            nxt = _advance(
                m,
                CHECKPOINTING,
                now,
                f"no SDK handler attached: SIGTERM, "
                f"{self.config.checkpoint_grace_s:g}s to checkpoint",
                pending_command=stop_id,
                phase_deadline_unix=self._stop_deadline(now),
            )
        self._stage_message(batch, key, workload, f"migrating to {m.target_node}: checkpointing")
        await self._commit(batch, key, nxt, now)

    def _stage_checkpoint_directive(
        self,
        batch: Batch,
        key: str,
        m: migration_pb2.Migration,
        now: float,
        note: str,
        directive_id: str = "",
    ) -> migration_pb2.Migration:
        """Ask the attached app to checkpoint; the record waits for its ack (or the deadline)."""
        deadline = now + self.config.directive_timeout_s
        self.decisions.stage_directive(
            batch, key, now, directive_id, **_checkpoint_fields(m, deadline)
        )
        return _advance(
            m,
            CHECKPOINTING,
            now,
            note,
            pending_directive=batch.directives[-1].id,
            phase_deadline_unix=deadline,
        )

    async def _checkpointing(
        self,
        key: str,
        m: migration_pb2.Migration,
        workload: types_pb2.Workload,
        now: float,
        resumed: bool,
    ) -> None:
        batch = Batch()
        if m.pending_directive:
            ack = self._directive_acks.get(m.pending_directive)
            if ack is None and resumed:
                # The ack went to the previous leader, if anywhere: ask again.
                nxt = self._stage_checkpoint_directive(
                    batch, key, m, now, "CHECKPOINT directive sent again", m.pending_directive
                )
                await self._commit(batch, key, nxt)
                return
            if ack is None:
                if now > self._deadline(m):
                    await self._fail(
                        key,
                        m,
                        now,
                        "no answer to the CHECKPOINT directive "
                        f"within {self.config.directive_timeout_s:g}s",
                        "none",
                    )
                return
            if not ack.ok:
                await self._fail(
                    key, m, now, f"the workload could not checkpoint: {ack.reason}", "none"
                )
                return
            stop_id = self._stage_stop(batch, key, m.source_node, now)
            nxt = _advance(
                m,
                CHECKPOINTING,
                now,
                "checkpointed; SIGTERM to stop it",
                pending_directive="",
                pending_command=stop_id,
                phase_deadline_unix=self._stop_deadline(now),
            )
            await self._commit(batch, key, nxt)
            return
        result = self._result(m.source_node, m.pending_command)
        if result is None:
            if now > self._deadline(m):
                await self._fail(
                    key,
                    m,
                    now,
                    f"{m.source_node} did not stop the workload in time",
                    "restart_source",
                )
            return
        exit_event = self._exits.get((m.source_node, key))
        if exit_event is not None and exit_event.signal == "SIGKILL":
            await self._fail(
                key,
                m,
                now,
                f"it did not exit within the {self.config.checkpoint_grace_s:g}s grace after "
                "SIGTERM and was killed: its checkpoint may be incomplete",
                "restart_source",
            )
            return
        detail = "stopped on the source"
        if isinstance(result, types_pb2.CommandAck) and not result.ok:
            # It was not running there (crashed, or stopped before a leader change): whatever
            # checkpoint it left is what there is; the transfer checks it exists.
            detail = f"not running on the source ({result.reason})"
        nxt = _advance(m, STOPPED, now, detail, pending_command="")
        batch = Batch()
        await self._commit(batch, key, nxt, now)
        await self._stopped(key, nxt, workload, now)

    async def _stopped(
        self, key: str, m: migration_pb2.Migration, workload: types_pb2.Workload, now: float
    ) -> None:
        placement = self.state.placements.get(key)
        if placement is None:
            await self._finish(key, m, now, FAILED, "the workload's placement was released")
            return
        batch = Batch()
        if placement.node == m.source_node:
            try:
                node, gpus = self._target(key, m)
            except NoTarget as exc:
                await self._fail(
                    key, m, now, f"no room on {m.target_node}: {exc}", "restart_source"
                )
                return
            moved = self._move(
                batch,
                key,
                workload,
                placement,
                node,
                gpus,
                now,
                f"migrating from {m.source_node} to {node}: transferring the checkpoint",
            )
        else:
            moved = placement  # moved before a leader change
            node, gpus = placement.node, tuple(placement.gpus)
        shared = self._shared_root(m.source_node, node)
        if shared:
            # Both nodes see the same checkpoint directory: nothing to move. The target's
            # agent refuses a start from a missing or empty one, which fails the migration.
            path = f"{shared.rstrip('/')}/{key}"
            self._exits.pop((node, key), None)
            start = self._stage_start(batch, workload, moved, now, path)
            nxt = _advance(
                m, STARTING, now,
                f"placed on {node} GPUs {list(gpus)}; shared checkpoint directory {path}",
                target_node=node, target_gpus=list(gpus), pending_command=start,
                checkpoint_path=path, phase_deadline_unix=now + self.config.start_timeout_s,
                placed_unix=moved.placed_unix,
            )  # fmt: skip
            await self._commit(batch, key, nxt, now)
            return
        upload = self._stage_upload(batch, key, m.source_node, now)
        nxt = _advance(
            m,
            TRANSFERRING,
            now,
            f"placed on {node} GPUs {list(gpus)}; checkpoint requested",
            target_node=node,
            target_gpus=list(gpus),
            placed_unix=moved.placed_unix,
            pending_command=upload,
            transfer_id=upload,
            phase_deadline_unix=now + self.config.transfer_timeout_s,
        )
        await self._commit(batch, key, nxt, now)

    async def _transferring(
        self, key: str, m: migration_pb2.Migration, workload: types_pb2.Workload, now: float
    ) -> None:
        if self._target_lost(key, m, now):
            await self._fail(
                key, m, now, f"target {m.target_node} went away during the transfer", "move_back"
            )
            return
        result = self._result(m.source_node, m.pending_command)
        transfer = self.relay.get(m.transfer_id)
        if isinstance(result, types_pb2.CommandAck) and not result.ok:
            await self._fail(
                key,
                m,
                now,
                f"{m.source_node} could not send a checkpoint: {result.reason}",
                "move_back",
                resume="with no checkpoint to resume from: it starts over",
            )
            return
        if transfer is None or (result is LOST and not transfer.complete):
            # A new leader holds no copy; or the request vanished: ask the source again.
            batch = Batch()
            upload = self._stage_upload(batch, key, m.source_node, now)
            nxt = _advance(
                m,
                TRANSFERRING,
                now,
                "checkpoint requested again",
                pending_command=upload,
                transfer_id=upload,
                phase_deadline_unix=max(
                    m.phase_deadline_unix, now + self.config.transfer_timeout_s
                ),
            )
            await self._commit(batch, key, nxt)
            return
        if transfer.error:
            self.relay.drop(m.transfer_id)
            await self._fail(key, m, now, transfer.error, "move_back")
            return
        if transfer.complete and m.transfer_id not in self._forwarded:
            session = self.sessions.agent(m.target_node)
            if session is None or not self.relay.forward(m.transfer_id, session):
                return  # _target_lost decides when to give up
            self._forwarded.add(m.transfer_id)
            log.info(
                "checkpoint_forwarded",
                workload=key,
                target=m.target_node,
                bytes=len(transfer.data),
                sha256=transfer.sha256[:16],
            )
        installed = self._installed.pop(m.transfer_id, None)
        if installed is None:
            if now > self._deadline(m):
                await self._fail(
                    key,
                    m,
                    now,
                    f"the checkpoint transfer took longer than {self.config.transfer_timeout_s:g}s",
                    "move_back",
                )
            return
        size, sha256 = len(transfer.data), transfer.sha256
        self.relay.drop(m.transfer_id)
        if not installed.ok:
            await self._fail(
                key,
                m,
                now,
                f"{m.target_node} could not install the checkpoint: {installed.reason}",
                "move_back",
            )
            return
        placement = self.state.placements.get(key)
        assert placement is not None
        batch = Batch()
        self._exits.pop((m.target_node, key), None)
        start = self._stage_start(batch, workload, placement, now, installed.path)
        starting = f"migrating from {m.source_node} to {m.target_node}: starting"
        self._stage_message(batch, key, workload, starting)
        nxt = _advance(
            m,
            STARTING,
            now,
            f"checkpoint installed at {installed.path} ({size} bytes)",
            pending_command=start,
            checkpoint_path=installed.path,
            checkpoint_bytes=size,
            checkpoint_sha256=sha256,
            phase_deadline_unix=now + self.config.start_timeout_s,
        )
        await self._commit(batch, key, nxt, now)

    async def _starting(
        self, key: str, m: migration_pb2.Migration, workload: types_pb2.Workload, now: float
    ) -> None:
        if not m.managed:
            ack = self._directive_acks.get(m.pending_directive)
            if ack is not None and ack.ok:
                await self._finish(key, m, now, RUNNING, f"moved itself to {m.target_node}")
            elif ack is not None:
                await self._fail(
                    key, m, now, f"the workload could not move: {ack.reason}", "move_back"
                )
            elif now > self._deadline(m):
                await self._fail(
                    key,
                    m,
                    now,
                    "no answer to the MIGRATE directive within "
                    f"{self.config.directive_timeout_s:g}s",
                    "move_back",
                )
            return
        exit_event = self._exits.get((m.target_node, key))
        if exit_event is not None and exit_event.outcome != "succeeded":
            what = (
                f"start failed on {m.target_node}: {exit_event.detail}"
                if exit_event.kind == "start_failed"
                else f"{exit_text(exit_event)} on {m.target_node} right after the start"
                + (f" ({exit_event.detail})" if exit_event.detail else "")
            )
            await self._fail(key, m, now, what, "move_back")
            return
        if self._target_lost(key, m, now):
            await self._fail(
                key, m, now, f"target {m.target_node} went away while starting", "move_back"
            )
            return
        result = self._result(m.target_node, m.pending_command)
        if isinstance(result, types_pb2.CommandAck) and not result.ok:
            await self._fail(
                key, m, now, f"start on {m.target_node} failed: {result.reason}", "move_back"
            )
            return
        if result is LOST and not m.started_unix:
            placement = self.state.placements.get(key)
            assert placement is not None
            batch = Batch()
            # Idempotent on the agent: the same uid already running returns its pid.
            start = self._stage_start(batch, workload, placement, now, m.checkpoint_path)
            nxt = _advance(m, STARTING, now, "start sent again", pending_command=start)
            await self._commit(batch, key, nxt)
            return
        if result is None:
            if now > self._deadline(m):
                await self._fail(
                    key,
                    m,
                    now,
                    f"{m.target_node} did not start it within {self.config.start_timeout_s:g}s",
                    "move_back",
                )
            return
        if not m.started_unix:
            started = migration_pb2.Migration()
            started.CopyFrom(m)
            started.started_unix = now
            started.updated_unix = now
            batch = Batch()
            await self._commit(batch, key, started)
            return
        if exit_event is not None or now - m.started_unix >= self.config.settle_s:
            await self._finish(
                key,
                m,
                now,
                RUNNING,
                f"runs on {m.target_node} from its checkpoint ({m.checkpoint_bytes} bytes)",
            )
            if exit_event is not None:  # it finished in the meantime: say so
                await lifecycle_event(self.state, self.decisions, m.target_node, exit_event, now)

    # ------------------------------------------------------------ endings

    async def _fail(
        self,
        key: str,
        m: migration_pb2.Migration,
        now: float,
        error: str,
        rollback: str,
        resume: str = "from its own checkpoint",
    ) -> None:
        """Record the failure and roll back in the same transaction.

        rollback "none": nothing was done to the workload yet. "restart_source": it is still
        placed on the source but may have stopped: start it there again (a no-op when it
        runs), from its own checkpoint. "move_back": the placement moved to the target; move
        it back and restart on the source from the checkpoint it left there."""
        workload = self.state.workloads.get(key)
        placement = self.state.placements.get(key)
        batch = Batch()
        outcome = f"still on {m.source_node}"
        if workload is not None and placement is not None and rollback != "none":
            if rollback == "move_back" and placement.node != m.source_node:
                if m.managed and m.phase == STARTING:
                    self._stage_stop(batch, key, placement.node, now)
                try:
                    # A draining source is cordoned: that keeps new work off, not its own.
                    node, gpus = choose_target(
                        self.state,
                        self.optimizer_config,
                        key,
                        only=m.source_node,
                        allow_cordoned=True,
                    )
                except NoTarget as exc:
                    # Starting it anywhere else would start it from no checkpoint: say so.
                    stuck = (
                        f"migration to {m.target_node} failed ({error}) and "
                        f"{m.source_node} has no room left ({exc}); not restarted"
                    )
                    self._release(batch, key, workload, placement, now, stuck)
                    outcome = "not restarted: no room on the source"
                    await self._end(batch, key, m, now, FAILED, f"{error}; {outcome}")
                    return
                message = f"migration to {m.target_node} failed: {error}; back on {node}"
                placement = self._move(batch, key, workload, placement, node, gpus, now, message)
                if not m.managed:
                    self.decisions.stage_directive(
                        batch,
                        key,
                        now,
                        kind=types_pb2.DIRECTIVE_KIND_PLACEMENT,
                        node=node,
                        gpus=list(gpus),
                        milli_gpu=placement.milli_gpu,
                        reason=message,
                    )
            if m.managed and placement.node == m.source_node:
                self._stage_start(batch, workload, placement, now, "")
                outcome = f"restarted on {m.source_node} {resume}"
        if workload is not None:
            self._stage_message(
                batch, key, workload, f"migration to {m.target_node} failed: {error}; {outcome}"
            )
        await self._end(batch, key, m, now, FAILED, f"{error}; {outcome}")

    async def _finish(
        self, key: str, m: migration_pb2.Migration, now: float, phase: int, detail: str
    ) -> None:
        batch = Batch()
        workload = self.state.workloads.get(key)
        if phase == RUNNING and workload is not None:
            self._stage_message(
                batch,
                key,
                workload,
                f"migrated from {m.source_node} to {m.target_node}",
                phase=types_pb2.WORKLOAD_PHASE_RUNNING,
            )
        await self._end(batch, key, m, now, phase, detail)

    async def _end(
        self,
        batch: Batch,
        key: str,
        m: migration_pb2.Migration,
        now: float,
        phase: int,
        detail: str,
    ) -> None:
        changes: dict[str, object] = {"pending_command": "", "pending_directive": ""}
        if phase == FAILED:
            changes["error"] = detail
        done = _advance(m, phase, now, detail, **changes)
        await self._commit(batch, key, done, now)
        self.relay.drop(m.transfer_id)
        self._lost_since.pop(key, None)
        MIGRATION_DURATION.labels(result=_name(phase)).observe(max(now - m.requested_unix, 0))

    # ------------------------------------------------------------ building blocks

    def _target(self, key: str, m: migration_pb2.Migration) -> tuple[str, tuple[int, ...]]:
        """GPUs on the chosen target now; another node when the caller did not fix it and
        the first choice filled up meanwhile."""
        try:
            return choose_target(self.state, self.optimizer_config, key, only=m.target_node)
        except NoTarget:
            if m.target_fixed:
                raise
        return choose_target(self.state, self.optimizer_config, key, exclude=m.source_node)

    def _move(
        self,
        batch: Batch,
        key: str,
        workload: types_pb2.Workload,
        placement: types_pb2.PlacementRecord,
        node: str,
        gpus: tuple[int, ...],
        now: float,
        message: str,
    ) -> types_pb2.PlacementRecord:
        """The placement moves; the GPU accounting follows. No start: the migration says when."""
        record = types_pb2.PlacementRecord()
        record.CopyFrom(placement)
        record.node = node
        record.gpus[:] = gpus
        record.placed_unix = now
        record.reason = message
        self.decisions.stage_placement(batch, key, record)
        updated = types_pb2.Workload()
        updated.CopyFrom(workload)
        updated.node = node
        updated.gpus[:] = gpus
        updated.milli_gpu = record.milli_gpu
        updated.placed_unix = now
        updated.message = message
        self.decisions.stage_workload(batch, key, updated)
        self.decisions.stage_command(
            batch,
            placement.node,
            now,
            unassign_workload=types_pb2.UnassignWorkload(workload=key),
        )
        self.decisions.stage_command(
            batch,
            node,
            now,
            assign_workload=assign_workload(workload, record),
        )
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

    def _stage_stop(self, batch: Batch, key: str, node: str, now: float) -> str:
        self._exits.pop((node, key), None)  # only the exit this stop causes counts
        self.decisions.stage_command(
            batch,
            node,
            now,
            stop_workload=types_pb2.StopWorkload(
                workload=key, grace_s=self.config.checkpoint_grace_s
            ),
        )
        return batch.commands[-1][1].id

    def _stage_upload(self, batch: Batch, key: str, node: str, now: float) -> str:
        self.decisions.stage_command(
            batch, node, now, checkpoint_workload=types_pb2.CheckpointWorkload(workload=key)
        )
        command_id = batch.commands[-1][1].id
        self.relay.expect(command_id, key, node)
        return command_id

    def _stage_start(
        self,
        batch: Batch,
        workload: types_pb2.Workload,
        placement: types_pb2.PlacementRecord,
        now: float,
        checkpoint_dir: str,
    ) -> str:
        self.decisions.stage_command(
            batch,
            placement.node,
            now,
            start_workload=start_workload(workload, placement, checkpoint_dir),
        )
        return batch.commands[-1][1].id

    def _stage_message(
        self,
        batch: Batch,
        key: str,
        workload: types_pb2.Workload,
        message: str,
        phase: int | None = None,
    ) -> None:
        # A workload staged earlier in this batch (a move) is the one to amend.
        for cache_name, suffix, staged in reversed(batch.cache_updates):
            if cache_name == "workloads" and suffix == key and staged is not None:
                workload = staged  # type: ignore[assignment]
                break
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
        emit_at: float | None = None,
    ) -> None:
        """Write the batch with the migration's new record; with `emit_at`, also the event
        of the step the record took."""
        batch.writes.append(Write(self.keys.migration(key), record.SerializeToString()))
        # A step may amend what it staged (a move, then the message): etcd refuses a key
        # twice in one transaction, and the last write is the one meant.
        last = {write.key: i for i, write in enumerate(batch.writes)}
        batch.writes[:] = [w for i, w in enumerate(batch.writes) if last[w.key] == i]
        await self.decisions.commit(batch)
        self.cache.apply_local(key, record)
        if emit_at is not None:
            self._emit(key, record, emit_at)

    def _result(self, node: str, command_id: str) -> types_pb2.CommandAck | _Lost | None:
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

    def _target_lost(self, key: str, m: migration_pb2.Migration, now: float) -> bool:
        node = self.state.nodes.get(m.target_node)
        present = (
            node is not None
            and node.state == types_pb2.NODE_STATE_READY
            and self.sessions.agent(m.target_node) is not None
        )
        if present:
            self._lost_since.pop(key, None)
            return False
        since = self._lost_since.setdefault(key, now)
        return now - since >= self.config.target_lost_s

    def _deadline(self, m: migration_pb2.Migration) -> float:
        return max(m.phase_deadline_unix, self._floor)

    def _stop_deadline(self, now: float) -> float:
        return now + self.config.checkpoint_grace_s + self.config.stop_timeout_s

    def _emit(self, key: str, m: migration_pb2.Migration, now: float) -> None:
        step = m.history[-1] if m.history else None
        kind = {
            RUNNING: "migration_succeeded",
            FAILED: "migration_failed",
        }.get(m.phase, "migration_progress")
        self.decisions.events.emit(
            kind,
            f"workload/{key}",
            f"{_name(m.phase)}: {step.detail if step else ''}",
            now,
            source=m.source_node,
            target=m.target_node,
            phase=_name(m.phase),
        )


def _advance(
    m: migration_pb2.Migration, phase: int, now: float, detail: str, **changes: object
) -> migration_pb2.Migration:
    nxt = migration_pb2.Migration()
    nxt.CopyFrom(m)
    for name, value in changes.items():
        field = getattr(nxt, name)
        if isinstance(value, list):
            field[:] = value  # type: ignore[index]
        else:
            setattr(nxt, name, value)
    nxt.phase = phase  # type: ignore[assignment]
    nxt.updated_unix = now
    nxt.history.append(migration_pb2.MigrationStep(phase=phase, time_unix=now, detail=detail))  # type: ignore[arg-type]
    return nxt


def _name(phase: int) -> str:
    return migration_pb2.MigrationPhase.Name(phase).removeprefix("MIGRATION_PHASE_").lower()  # type: ignore[arg-type]


def _phase_name(workload: types_pb2.Workload) -> str:
    return types_pb2.WorkloadPhase.Name(workload.phase).removeprefix("WORKLOAD_PHASE_").lower()


def _checkpoint_fields(m: migration_pb2.Migration, deadline_unix: float) -> dict[str, Any]:
    return {
        "kind": types_pb2.DIRECTIVE_KIND_CHECKPOINT,
        "reason": f"migrating to {m.target_node}: {m.reason}",
        "deadline_unix": deadline_unix,
    }


def _migrate_fields(
    m: migration_pb2.Migration, node: str, gpus: Sequence[int], milli_gpu: int, deadline_unix: float
) -> dict[str, Any]:
    return {
        "kind": types_pb2.DIRECTIVE_KIND_MIGRATE,
        "node": node,
        "gpus": list(gpus),
        "milli_gpu": milli_gpu,
        "reason": m.reason,
        "deadline_unix": deadline_unix,
    }


def _bound(items: OrderedDict[str, Any]) -> None:
    while len(items) > _REMEMBERED:
        items.popitem(last=False)
