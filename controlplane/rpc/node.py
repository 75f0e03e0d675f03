"""NodeService: agents register and keep one bidirectional stream open."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import grpc
import structlog

from controlplane.app.config import ControllerConfig
from controlplane.auth.tokens import TokenStore
from controlplane.leader import lifecycle
from controlplane.leader.decisions import Batch, Decisions
from controlplane.leader.health import GpuHealth
from controlplane.leader.messages import assign_workload, start_workload
from controlplane.leader.migration import Migrations
from controlplane.leader.relays import LogRelay
from controlplane.rpc.admission import StreamAdmission, TelemetryPacer
from controlplane.rpc.common import (
    Leadership,
    abort_store_error,
    read_hello,
    retry_conflicts,
    validate,
)
from controlplane.rpc.metrics import REPORTS, STREAM_MESSAGES
from controlplane.rpc.ratelimit import RETRY_AFTER_METADATA_KEY
from controlplane.rpc.validation import (
    ValidationError,
    check_agent_hello,
    check_name,
    check_process_event,
    check_register_node,
    check_telemetry,
    check_workload_ref,
    clip,
)
from controlplane.view.cluster import ClusterState
from controlplane.view.sessions import AgentSession, Sessions
from controlplane.view.telemetry import NodeTelemetry
from sdk._metadata import ACCEPTED_METADATA_KEY
from sdk.pb.aiwo.v1 import node_pb2, node_pb2_grpc, types_pb2

log = structlog.get_logger("aiwo.node_service")

WORKLOAD_TOKEN_TTL_S = 7 * 24 * 3600.0  # a managed workload's token; each start renews it
HEARTBEAT_DOWN_S = 2.0  # controller -> agent, when there is nothing else to send


class NodeService(node_pb2_grpc.NodeServiceServicer):
    def __init__(
        self,
        state: ClusterState,
        decisions: Decisions,
        sessions: Sessions,
        leadership: Leadership,
        telemetry_interval_s: float,
        on_change: asyncio.Event,
        migrations: Migrations | None = None,
        logs: LogRelay | None = None,
        tokens: TokenStore | None = None,
        config: ControllerConfig | None = None,
    ) -> None:
        self.tokens = tokens  # None: the cluster requires no tokens
        self.config = config or ControllerConfig(telemetry_interval_s=telemetry_interval_s)
        self.admission = StreamAdmission(self.config)
        self.migrations = migrations
        self.logs = logs
        self.state = state
        self.decisions = decisions
        self.sessions = sessions
        self.leadership = leadership
        self.telemetry_interval_s = telemetry_interval_s
        self.on_change = on_change
        # Service replicas' news (ready, unready, exits): controlplane/leader/serving.py.
        self.on_replica_event: (
            Callable[[str, node_pb2.ProcessEvent, float], Awaitable[None]] | None
        ) = None
        self.health = GpuHealth(state, decisions, migrations, on_change)

    async def WorkloadCredentials(
        self, request: node_pb2.WorkloadCredentialsRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.WorkloadCredentialsResponse:
        """A token for a managed workload this node runs (its process uses the SDK)."""
        namespace, _, name = request.workload.partition("/")

        def check() -> None:
            check_name("node", request.node)
            check_workload_ref(name, namespace)

        await validate(context, check)
        await self.leadership.require(context)
        key = request.workload
        workload, placement = self.state.workloads.get(key), self.state.placements.get(key)
        if workload is None or placement is None or placement.node != request.node:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"workload {key} is not placed on node {request.node}",
            )
        assert workload is not None  # abort raised above
        if not workload.spec.HasField("launch"):
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"workload {key} is not one an agent runs"
            )
        if self.tokens is None:
            return node_pb2.WorkloadCredentialsResponse()
        description = f"managed workload {key} on node {request.node}"
        try:
            for info in self.tokens.infos():  # a restart gets a new token; the old one ends
                if (info.workload, info.node) == (key, request.node) and not info.revoked:
                    await self.tokens.revoke(info.id)
            token, info = await self.tokens.create(
                "workload",
                [namespace],
                WORKLOAD_TOKEN_TTL_S,
                description,
                f"node:{request.node}",
                workload=key,
                node=request.node,
            )
        except Exception as exc:
            await abort_store_error(context, exc)
        log.info("workload_token_issued", workload=key, node=request.node, token_id=info.id)
        return node_pb2.WorkloadCredentialsResponse(token=token, expires_unix=info.expires_unix)

    async def Register(
        self, request: node_pb2.RegisterNodeRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.RegisterNodeResponse:
        await validate(context, lambda: check_register_node(request))
        await self.leadership.require(context)
        info = request.node
        now = time.time()
        existing = self.state.nodes.get(info.name)
        node = types_pb2.Node(
            name=info.name,
            state=types_pb2.NODE_STATE_READY,
            cordoned=existing.cordoned if existing else False,
            gpu_count=len(info.gpus),
            gpu_model=_model_summary(info),
            registered_unix=existing.registered_unix if existing else now,
            reason=existing.reason if existing and existing.cordoned else "",
            info=info,
            last_heartbeat_unix=existing.last_heartbeat_unix if existing else now,
        )
        if existing is not None and _same_gpus(existing.info, info):
            # An unhealthy GPU stays so across agent restarts; other GPUs start healthy.
            node.unhealthy_gpus.update(existing.unhealthy_gpus)
        self.state.liveness.beat(info.name, now)
        self.state.telemetry.ensure(info.name, len(info.gpus))
        if existing is None or _changed(existing, node):
            if existing is None or existing.state != node.state or existing.info != node.info:
                node.last_heartbeat_unix = now
            try:
                await self.decisions.commit_node(node)
            except Exception as exc:
                await abort_store_error(context, exc)
            kind = "node_registered" if existing is None else "node_ready"
            self.decisions.events.emit(
                kind,
                f"node/{info.name}",
                f"{len(info.gpus)} × {node.gpu_model or 'no GPU'}, backend {info.gpu_backend.kind}",
                now,
                gpus=len(info.gpus),
                backend_status=types_pb2.GpuBackendStatus.Name(info.gpu_backend.status),
            )
            self.on_change.set()
        return node_pb2.RegisterNodeResponse(
            session_id=uuid.uuid4().hex[:16],
            telemetry_interval_s=self.telemetry_interval_s,
            epoch=self.decisions.store.epoch,
        )

    async def Connect(self, request_iterator: object, context: grpc.aio.ServicerContext) -> None:
        hello: node_pb2.AgentHello = await read_hello(context)
        await validate(context, lambda: check_agent_hello(hello))
        if self.state.nodes.get(hello.node) is None:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"node {hello.node!r} is not registered"
            )
        await self.leadership.require(context)
        wait_s = self.admission.admit(hello.node, time.monotonic())
        if wait_s > 0:
            REPORTS.labels(outcome="stream_refused").inc()
            context.set_trailing_metadata(
                ((RETRY_AFTER_METADATA_KEY, str(int(wait_s * 1000) + 1)),)
            )
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"agent streams are paced: retry in {wait_s:.2f} s",
            )
        # Accepted: the agent sends telemetry, acks and process events only once it has read
        # this; a refusal above is trailers-only, so nothing it sends is lost in it.
        await context.send_initial_metadata(((ACCEPTED_METADATA_KEY, "1"),))
        session = self.sessions.open_agent(hello.node)
        session.highest_epoch_seen = hello.highest_epoch_seen
        log.info("agent_connected", node=hello.node, session=session.session_id)
        self._resend(session)
        reader = asyncio.create_task(self._read(session, context), name=f"agent-read-{hello.node}")
        wake = _Wake(session, reader)
        try:
            # A controller that stops leading (paused past its lease, deposed) ends the stream,
            # so the agent goes to the new leader instead of talking to a follower. The queue
            # is woken by the reader's end (a stream the agent closed, or one refused for bad
            # input, ends now) and by a timer every HEARTBEAT_DOWN_S: one timer per stream,
            # not a task and a wait per period (at 10,000 streams, 5,000 of each a second).
            while True:
                message = await session.queue.get()
                if reader.done() or not self.leadership.is_leader:
                    break
                if message is _HEARTBEAT:
                    message = node_pb2.ControllerMessage(heartbeat_unix=time.time())
                elif message is _WOKEN:
                    continue
                await context.write(message)
            if not reader.done():
                await self.leadership.require(context)
            error = reader.exception()
            if isinstance(error, ValidationError):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            if isinstance(error, FloodError):
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
        finally:
            wake.cancel()
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            self.sessions.close_agent(session)
            log.info("agent_disconnected", node=hello.node, session=session.session_id)

    def _resend(self, session: AgentSession) -> None:
        """A (re)connected agent gets its full assignment set, then its pending commands."""
        sync = node_pb2.AssignmentSet(epoch=self.decisions.store.epoch)
        for placement in self.state.node_workloads(session.node):
            workload = self.state.workloads.get(placement.workload)
            if workload is None:
                continue
            sync.assignments.append(assign_workload(workload, placement))
            held = self.migrations is not None and self.migrations.holds_start(placement.workload)
            if workload.spec.launch.command and not held:
                sync.managed.append(start_workload(workload, placement))
        session.send(node_pb2.ControllerMessage(sync=sync))
        for command in self.state.pending_commands(session.node):
            session.send(node_pb2.ControllerMessage(command=command))

    async def _read(self, session: AgentSession, context: grpc.aio.ServicerContext) -> None:
        node_name = session.node
        pacer = TelemetryPacer.of(self.config, time.monotonic())
        beat = self.state.liveness.beat
        while True:
            message = await context.read()
            if message is grpc.aio.EOF:
                return
            kind = message.WhichOneof("body")
            _received(kind)
            now = time.time()
            beat(node_name, now)
            if kind == "telemetry":
                if not pacer.admit(time.monotonic()):
                    ACCEPTED_DROPPED.inc()
                    if pacer.flooding:
                        raise FloodError(
                            f"telemetry: more than {self.config.telemetry_burst_factor:g} "
                            f"reports per {self.config.telemetry_interval_s:g} s"
                        )
                    continue
                node = self.state.nodes.get(node_name)
                gpu_count = node.gpu_count if node else 0
                try:
                    check_telemetry(message.telemetry, gpu_count)
                except ValidationError:
                    ACCEPTED_INVALID.inc()
                    raise
                series = self.state.telemetry.ensure(node_name, gpu_count)
                series.add(message.telemetry)
                ACCEPTED_OK.inc()
                if self._health_due(node_name, series, now):
                    await self._act_on_health(node_name, now)
                if node is not None and node.state != types_pb2.NODE_STATE_READY:
                    await retry_conflicts(partial(self._mark_ready, node_name, now))
            elif kind == "ack":
                ack = message.ack
                await retry_conflicts(partial(self._on_ack, node_name, ack, now))
            elif kind == "process_event":
                event = message.process_event
                check_process_event(event)  # raises: INVALID_ARGUMENT
                await retry_conflicts(partial(self._on_process_event, node_name, event, now))
            elif kind == "checkpoint_chunk" and self.migrations is not None:
                self.migrations.on_checkpoint_chunk(node_name, message.checkpoint_chunk)
            elif kind == "checkpoint_installed" and self.migrations is not None:
                self.migrations.on_checkpoint_installed(node_name, message.checkpoint_installed)
            elif kind == "logs_reply" and self.logs is not None:
                self.logs.on_reply(node_name, message.logs_reply)

    def _health_due(self, node_name: str, series: NodeTelemetry, now: float) -> bool:
        # Health handling must never end an agent's stream: a failed step is retried with
        # the next report (the condition is still pending, or already in the node record).
        try:
            return self.health.check(node_name, series, now)
        except Exception as exc:
            log.warning("health_check_failed", node=node_name, error=str(exc))
            return False

    async def _act_on_health(self, node_name: str, now: float) -> None:
        try:
            await retry_conflicts(partial(self.health.act, node_name, now))
        except Exception as exc:
            log.warning("health_action_failed", node=node_name, error=str(exc))

    async def _mark_ready(self, node_name: str, now: float) -> None:
        node = self.state.nodes.get(node_name)
        if node is None or node.state == types_pb2.NODE_STATE_READY:
            return
        if self.decisions.store.epoch <= 0:
            return
        updated = types_pb2.Node()
        updated.CopyFrom(node)
        updated.state = types_pb2.NODE_STATE_READY
        updated.reason = updated.reason if updated.cordoned else ""
        updated.last_heartbeat_unix = now
        await self.decisions.commit_node(updated)
        self.decisions.events.emit("node_ready", f"node/{node_name}", "heartbeats resumed", now)
        self.on_change.set()

    async def _on_ack(self, node_name: str, ack: types_pb2.CommandAck, now: float) -> None:
        command = self.state.commands.get(f"{node_name}/{ack.command_id}")
        if self.migrations is not None and command is not None:
            self.migrations.on_ack(node_name, ack)  # before the command leaves the log
        if command is None:
            # Already acked (the second ack of a redelivery) or never ours: an agent must
            # not be able to write the decision log with made-up command ids.
            return
        if not ack.ok:
            self.decisions.events.emit(
                "command_failed",
                f"node/{node_name}",
                clip(f"command {ack.command_id} failed: {ack.reason}"),
                now,
                command_id=ack.command_id,
                reason=clip(ack.reason),
            )
        if command is None or self.decisions.store.epoch <= 0:
            return  # a sync command, or already acked
        batch = Batch()
        self.decisions.stage_delete_command(batch, node_name, ack.command_id)
        action = command.WhichOneof("action")
        if action in ("assign_workload", "start_workload"):
            key = getattr(command, action).workload
            workload = self.state.workloads.get(key)
            placement = self.state.placements.get(key)
            migrating = self.migrations is not None and self.migrations.owns(key)
            if (
                workload is not None
                and placement is not None
                and placement.node == node_name
                and not migrating  # the migration decides what its starts mean
            ):
                updated = types_pb2.Workload()
                updated.CopyFrom(workload)
                if ack.ok and updated.phase == types_pb2.WORKLOAD_PHASE_PLACED:
                    updated.phase = types_pb2.WORKLOAD_PHASE_RUNNING
                elif not ack.ok and action == "start_workload":
                    updated.phase = types_pb2.WORKLOAD_PHASE_FAILED
                    updated.message = f"start failed on {node_name}: {ack.reason}"
                if updated != workload:
                    self.decisions.stage_workload(batch, key, updated)
        await self.decisions.commit(batch)

    async def _on_process_event(
        self, node_name: str, event: node_pb2.ProcessEvent, now: float
    ) -> None:
        fields: dict[str, object] = {"pid": event.pid, "node": node_name}
        if event.kind == "exited":
            fields["exit_code"] = event.exit_code
            if event.signal:
                fields["signal"] = event.signal
        how = f" by {event.signal}" if event.signal else f" with code {event.exit_code}"
        text = event.kind + (how if event.kind == "exited" else "")
        if event.detail:
            text += f": {event.detail}"
        self.decisions.events.emit(
            f"process_{event.kind}", f"workload/{event.workload}", text, now, **fields
        )
        if self.on_replica_event is not None:
            await self.on_replica_event(node_name, event, now)
        if self.migrations is not None and self.migrations.on_process_event(node_name, event):
            return  # a migration drives this workload now
        await lifecycle.on_process_event(self.state, self.decisions, node_name, event, now)


# Markers in a session's queue (compared by identity, never sent).
_HEARTBEAT = node_pb2.ControllerMessage()
_WOKEN = node_pb2.ControllerMessage()


class _Wake:
    """Puts a heartbeat marker in the session's queue every HEARTBEAT_DOWN_S when it has
    nothing else to send, and a wake marker when the reader ends."""

    def __init__(self, session: AgentSession, reader: asyncio.Task[None]) -> None:
        self._queue = session.queue
        self._loop = asyncio.get_running_loop()
        self._timer = self._loop.call_later(HEARTBEAT_DOWN_S, self._beat)
        reader.add_done_callback(lambda _: self._put(_WOKEN))

    def _put(self, marker: node_pb2.ControllerMessage) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a full queue wakes the writer anyway
            self._queue.put_nowait(marker)

    def _beat(self) -> None:
        if self._queue.empty():
            self._put(_HEARTBEAT)
        self._timer = self._loop.call_later(HEARTBEAT_DOWN_S, self._beat)

    def cancel(self) -> None:
        self._timer.cancel()


class FloodError(Exception):
    """A stream kept sending telemetry past its budget: it is ended."""


# Children of the per-message counters, looked up once: .labels() per message costs more
# than the rest of the bookkeeping.
_RECEIVED: dict[str | None, Any] = {}
ACCEPTED_OK = REPORTS.labels(outcome="accepted")
ACCEPTED_INVALID = REPORTS.labels(outcome="invalid")
ACCEPTED_DROPPED = REPORTS.labels(outcome="dropped")


def _received(kind: str | None) -> None:
    counter = _RECEIVED.get(kind)
    if counter is None:
        counter = _RECEIVED[kind] = STREAM_MESSAGES.labels(stream="agent", kind=kind or "empty")
    counter.inc()


def _model_summary(info: types_pb2.NodeInfo) -> str:
    models = sorted({gpu.model for gpu in info.gpus})
    return models[0] if len(models) == 1 else ",".join(models)


def _same_gpus(old: types_pb2.NodeInfo, new: types_pb2.NodeInfo) -> bool:
    return [(g.index, g.uuid) for g in old.gpus] == [(g.index, g.uuid) for g in new.gpus]


def _changed(old: types_pb2.Node, new: types_pb2.Node) -> bool:
    a, b = types_pb2.Node(), types_pb2.Node()
    a.CopyFrom(old)
    b.CopyFrom(new)
    a.last_heartbeat_unix = b.last_heartbeat_unix = 0
    return a != b
