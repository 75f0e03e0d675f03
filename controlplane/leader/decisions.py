"""The leader's write side: turn decisions into fenced etcd writes, then commands and directives.

Order matters: desired state and commands are committed first (one fenced transaction);
only then are commands pushed to agents and directives to applications. A crash between
the two loses nothing: pending commands are resent when the agent reconnects.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from controlplane.etcd.cache import PrefixCache
from controlplane.etcd.keys import Keys
from controlplane.etcd.store import EtcdStore, Write
from controlplane.leader.events import EventLog
from controlplane.leader.messages import assign_workload, start_workload
from controlplane.optimizer.types import Placement, Plan
from controlplane.view.cluster import ClusterState
from controlplane.view.sessions import Sessions
from sdk.pb.aiwo.v1 import node_pb2, types_pb2

log = structlog.get_logger("aiwo.decisions")


class Conflict(Exception):
    """A record a batch was decided on changed before the batch was committed (another
    decision got there first). Nothing was written; decide again from the current state."""


@dataclass
class Batch:
    """Writes plus what to do once they are committed."""

    writes: list[Write] = field(default_factory=list)
    cache_updates: list[tuple[str, str, object]] = field(default_factory=list)
    # (cache, key) -> the record this batch was decided on (None: it did not exist).
    expected: dict[tuple[str, str], object] = field(default_factory=dict)
    commands: list[tuple[str, types_pb2.Command]] = field(default_factory=list)
    directives: list[types_pb2.Directive] = field(default_factory=list)


class Decisions:
    def __init__(
        self,
        store: EtcdStore,
        state: ClusterState,
        keys: Keys,
        sessions: Sessions,
        events: EventLog,
        command_timeout_s: float,
    ) -> None:
        self.store = store
        self.state = state
        self.keys = keys
        self.sessions = sessions
        self.events = events
        self.command_timeout_s = command_timeout_s
        self._commit_lock = asyncio.Lock()

    # ------------------------------------------------------------ building blocks

    def _expect(self, batch: Batch, cache: str, key: str) -> None:
        batch.expected.setdefault((cache, key), self._caches()[cache].get(key))

    def _caches(self) -> dict[str, PrefixCache]:  # type: ignore[type-arg]
        return {
            "workloads": self.state.workloads,
            "placements": self.state.placements,
            "nodes": self.state.nodes,
            "commands": self.state.commands,
            "services": self.state.services,  # controlplane/leader/serving.py
        }

    def stage_workload(self, batch: Batch, key: str, workload: types_pb2.Workload) -> None:
        self._expect(batch, "workloads", key)
        batch.writes.append(Write(self.keys.workload(key), workload.SerializeToString()))
        batch.cache_updates.append(("workloads", key, workload))

    def stage_delete_workload(self, batch: Batch, key: str) -> None:
        self._expect(batch, "workloads", key)
        batch.writes.append(Write(self.keys.workload(key), None))
        batch.cache_updates.append(("workloads", key, None))

    def stage_placement(
        self, batch: Batch, key: str, record: types_pb2.PlacementRecord | None
    ) -> None:
        self._expect(batch, "placements", key)
        value = None if record is None else record.SerializeToString()
        batch.writes.append(Write(self.keys.placement(key), value))
        batch.cache_updates.append(("placements", key, record))

    def stage_node(self, batch: Batch, node: types_pb2.Node) -> None:
        self._expect(batch, "nodes", node.name)
        batch.writes.append(Write(self.keys.node(node.name), node.SerializeToString()))
        batch.cache_updates.append(("nodes", node.name, node))

    def stage_command(
        self, batch: Batch, node: str, now: float, command_id: str = "", **action: object
    ) -> None:
        """A command for `node`'s agent; `command_id` when the caller named it already (a
        migration's record refers to its commands by id). Ids sort by time in the log."""
        command = types_pb2.Command(
            id=command_id or f"{int(now * 1000):013d}-{uuid.uuid4().hex[:8]}",
            epoch=self.store.epoch,
            deadline_unix=now + self.command_timeout_s,
            **action,  # type: ignore[arg-type]
        )
        suffix = f"{node}/{command.id}"
        batch.writes.append(Write(self.keys.command(node, command.id), command.SerializeToString()))
        batch.cache_updates.append(("commands", suffix, command))
        batch.commands.append((node, command))

    def stage_directive(
        self, batch: Batch, workload: str, now: float, directive_id: str = "", **fields: object
    ) -> None:
        """A directive for the workload's app; `directive_id` re-sends one under its own id
        (the SDK then re-acks it from memory instead of handling it twice)."""
        batch.directives.append(
            types_pb2.Directive(
                id=directive_id or uuid.uuid4().hex[:12],
                workload=workload,
                time_unix=now,
                **fields,  # type: ignore[arg-type]
            )
        )

    async def commit(self, batch: Batch) -> None:
        """Write the batch if every record it was decided on is still as it was.

        The loops and the RPC handlers decide concurrently (one event loop, awaits between
        deciding and writing): without this check a pass that placed a workload could write
        it back after a Deregister deleted it. Commits are serialized, and the cache is
        updated before the lock is released, so the check and the write see one state.
        """
        caches = self._caches()
        async with self._commit_lock:
            stale = [
                f"{cache}/{key}"
                for (cache, key), seen in batch.expected.items()
                if caches[cache].get(key) is not seen
            ]
            if stale:
                raise Conflict("changed meanwhile: " + ", ".join(sorted(stale)[:5]))
            await self.store.commit(batch.writes)
            for cache_name, suffix, message in batch.cache_updates:
                caches[cache_name].apply_local(suffix, message)
        for node, command in batch.commands:
            session = self.sessions.agent(node)
            if session is not None:
                session.send(node_pb2.ControllerMessage(command=command))
        for directive in batch.directives:
            self.sessions.direct(directive)

    # ------------------------------------------------------------ placement decisions

    def stage_assign(
        self,
        batch: Batch,
        workload: types_pb2.Workload,
        record: types_pb2.PlacementRecord,
        now: float,
    ) -> None:
        if workload.spec.launch.command:
            self.stage_command(
                batch, record.node, now, start_workload=start_workload(workload, record)
            )
        self.stage_command(
            batch, record.node, now, assign_workload=assign_workload(workload, record)
        )

    def stage_release(self, batch: Batch, key: str, node: str, now: float, stop: bool) -> None:
        if stop:
            self.stage_command(
                batch, node, now, stop_workload=types_pb2.StopWorkload(workload=key, grace_s=10)
            )
        self.stage_command(
            batch, node, now, unassign_workload=types_pb2.UnassignWorkload(workload=key)
        )

    async def apply_plan(self, plan: Plan, now: float) -> None:
        batch = Batch()
        for preemption in plan.preemptions:
            self._stage_preemption(
                batch,
                preemption.victim,
                preemption.for_workload,
                preemption.reason,
                preemption.gpu_seconds_lost,
                now,
            )
        for placement in plan.placements:
            self._stage_placement(batch, placement, now)
        for unschedulable in plan.unschedulable:
            workload = self.state.workloads.get(unschedulable.workload)
            if workload is None:
                continue
            phase = (
                types_pb2.WORKLOAD_PHASE_UNSCHEDULABLE
                if unschedulable.never
                else types_pb2.WORKLOAD_PHASE_PENDING
            )
            if workload.phase == phase and workload.message == unschedulable.reason:
                continue  # nothing new to say: no write, no event
            updated = types_pb2.Workload()
            updated.CopyFrom(workload)
            updated.phase = phase
            updated.message = unschedulable.reason
            self.stage_workload(batch, unschedulable.workload, updated)
            self.events.emit(
                "workload_unschedulable" if unschedulable.never else "workload_pending",
                f"workload/{unschedulable.workload}",
                unschedulable.reason,
                now,
                **dict(unschedulable.rejections),
            )
        await self.commit(batch)

    def _stage_placement(self, batch: Batch, placement: Placement, now: float) -> None:
        workload = self.state.workloads.get(placement.workload)
        if workload is None:
            return
        record = types_pb2.PlacementRecord(
            workload=placement.workload,
            node=placement.node,
            gpus=list(placement.gpus),
            milli_gpu=placement.milli_gpu,
            workload_generation=workload.generation,
            placed_unix=now,
            reason=placement.reason,
            variant=workload.variant,
        )
        updated = types_pb2.Workload()
        updated.CopyFrom(workload)
        updated.phase = types_pb2.WORKLOAD_PHASE_PLACED
        updated.message = placement.reason
        updated.node = placement.node
        updated.gpus[:] = placement.gpus
        updated.milli_gpu = placement.milli_gpu
        updated.placed_unix = now
        self.stage_workload(batch, placement.workload, updated)
        self.stage_placement(batch, placement.workload, record)
        self.stage_assign(batch, updated, record, now)
        self.stage_directive(
            batch,
            placement.workload,
            now,
            kind=types_pb2.DIRECTIVE_KIND_PLACEMENT,
            node=placement.node,
            gpus=list(placement.gpus),
            milli_gpu=placement.milli_gpu,
            reason=placement.reason,
        )
        candidates = "; ".join(f"{c.node}={c.score:.4g}" for c in placement.candidates[:3])
        self.events.emit(
            "workload_placed",
            f"workload/{placement.workload}",
            f"placed on {placement.node} GPUs {list(placement.gpus)}: {placement.reason}",
            now,
            node=placement.node,
            gpus=list(placement.gpus),
            milli_gpu=placement.milli_gpu,
            score=placement.score,
            candidates=candidates,
        )

    def _stage_preemption(
        self, batch: Batch, victim: str, for_workload: str, reason: str, lost: float, now: float
    ) -> None:
        placement = self.state.placements.get(victim)
        workload = self.state.workloads.get(victim)
        if placement is None or workload is None:
            return
        self.stage_directive(
            batch,
            victim,
            now,
            kind=types_pb2.DIRECTIVE_KIND_PREEMPT,
            reason=reason,
            deadline_unix=now + 30,
        )
        self.unplace(batch, victim, placement, f"preempted by {for_workload}: {reason}", now)
        self.events.emit(
            "workload_preempted",
            f"workload/{victim}",
            f"preempted by {for_workload}: {reason}",
            now,
            node=placement.node,
            for_workload=for_workload,
            gpu_seconds_lost=lost,
        )

    def unplace(
        self,
        batch: Batch,
        key: str,
        placement: types_pb2.PlacementRecord,
        message: str,
        now: float,
        phase: int = types_pb2.WORKLOAD_PHASE_PENDING,
        record: types_pb2.Workload | None = None,
    ) -> None:
        """Release a workload's placement and requeue it (or set `phase`). `record`: the
        workload as the same batch writes it (e.g. with a new spec), else the cached one;
        one write per key, as etcd allows in a transaction."""
        workload = record if record is not None else self.state.workloads.get(key)
        self.stage_placement(batch, key, None)
        if workload is not None:
            updated = types_pb2.Workload()
            updated.CopyFrom(workload)
            updated.phase = phase  # type: ignore[assignment]
            updated.message = message
            updated.node = ""
            del updated.gpus[:]
            updated.milli_gpu = 0
            updated.placed_unix = 0
            self.stage_workload(batch, key, updated)
            stop = bool(workload.spec.launch.command)
        else:
            stop = True
        self.stage_release(batch, key, placement.node, now, stop=stop)

    # ------------------------------------------------------------ helpers for services

    async def commit_workload(self, key: str, workload: types_pb2.Workload) -> None:
        batch = Batch()
        self.stage_workload(batch, key, workload)
        await self.commit(batch)

    async def delete_workload(self, key: str, now: float) -> None:
        batch = Batch()
        placement = self.state.placements.get(key)
        if placement is not None:
            self.stage_placement(batch, key, None)
            workload = self.state.workloads.get(key)
            stop = workload is None or bool(workload.spec.launch.command)
            self.stage_release(batch, key, placement.node, now, stop=stop)
        self.stage_delete_workload(batch, key)
        await self.commit(batch)

    async def commit_node(self, node: types_pb2.Node) -> None:
        batch = Batch()
        self.stage_node(batch, node)
        await self.commit(batch)

    def stage_delete_command(self, batch: Batch, node: str, command_id: str) -> None:
        batch.writes.append(Write(self.keys.command(node, command_id), None))
        batch.cache_updates.append(("commands", f"{node}/{command_id}", None))

    async def delete_commands(self, node: str, command_ids: Sequence[str]) -> None:
        batch = Batch()
        for command_id in command_ids:
            self.stage_delete_command(batch, node, command_id)
        await self.commit(batch)
