"""WorkloadService: applications register workloads, report metrics, receive directives."""

from __future__ import annotations

import asyncio
import time
import uuid
from functools import partial

import grpc
import structlog

from controlplane.leader.decisions import Batch, Conflict, Decisions
from controlplane.leader.migration import Migrations
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.fit import never_fits
from controlplane.rpc.common import (
    Leadership,
    abort_store_error,
    commit_attempt,
    found,
    pump,
    read_hello,
    retry_conflicts,
    validate,
)
from controlplane.rpc.metrics import STREAM_MESSAGES
from controlplane.rpc.validation import (
    check_metrics,
    check_register_workload,
    check_workload_ref,
    check_workload_spec,
    clip,
    resolve_priority,
)
from controlplane.view.cluster import ClusterState
from controlplane.view.sessions import AppSession, Sessions
from controlplane.view.snapshot import request_of
from sdk._metadata import ACCEPTED_METADATA_KEY
from sdk.pb.aiwo.v1 import types_pb2, workload_pb2, workload_pb2_grpc

log = structlog.get_logger("aiwo.workload_service")

LEADERSHIP_CHECK_S = 2.0


class WorkloadService(workload_pb2_grpc.WorkloadServiceServicer):
    def __init__(
        self,
        state: ClusterState,
        decisions: Decisions,
        sessions: Sessions,
        leadership: Leadership,
        on_change: asyncio.Event,
        migrations: Migrations | None = None,
        max_workloads_per_namespace: int = 0,  # 0 = no limit
    ) -> None:
        self.migrations = migrations
        self.max_workloads_per_namespace = max_workloads_per_namespace
        self.state = state
        self.decisions = decisions
        self.sessions = sessions
        self.leadership = leadership
        self.on_change = on_change

    async def Register(
        self, request: workload_pb2.RegisterWorkloadRequest, context: grpc.aio.ServicerContext
    ) -> types_pb2.Workload:
        await validate(context, lambda: check_register_workload(request))
        await self.leadership.require(context)
        key = f"{request.namespace}/{request.name}"
        existing = self.state.workloads.get(key)
        if existing is not None:
            if existing.spec == request.spec:
                return self.state.workload_view(key) or existing  # idempotent
            await context.abort(
                grpc.StatusCode.ALREADY_EXISTS,
                f"workload {key} exists with a different spec; change it with Update "
                "(`aiwo update`), or deregister it first",
            )
        await self._reject_if_namespace_full(request.namespace, context)
        await self._reject_if_never_fits(request.spec, context)
        now = time.time()
        workload = types_pb2.Workload(
            name=request.name,
            namespace=request.namespace,
            uid=uuid.uuid4().hex,
            spec=request.spec,
            phase=types_pb2.WORKLOAD_PHASE_PENDING,
            message="waiting for placement",
            generation=1,
            created_unix=now,
            priority=resolve_priority(request.spec),
        )
        try:
            await self.decisions.commit_workload(key, workload)
        except Conflict:
            # The same name was registered concurrently: answer as if it came first.
            raced = self.state.workloads.get(key)
            if raced is not None and raced.spec == request.spec:
                return self.state.workload_view(key) or raced
            await context.abort(
                grpc.StatusCode.ALREADY_EXISTS,
                f"workload {key} was registered concurrently with a different spec",
            )
        except Exception as exc:
            await abort_store_error(context, exc)
        self.decisions.events.emit(
            "workload_registered",
            f"workload/{key}",
            f"priority {workload.priority}, {_resources_text(request.spec.resources)}",
            now,
            priority=workload.priority,
        )
        self.on_change.set()
        return workload

    async def Update(
        self, request: workload_pb2.UpdateWorkloadRequest, context: grpc.aio.ServicerContext
    ) -> types_pb2.Workload:
        def check() -> None:
            check_workload_ref(request.name, request.namespace)
            check_workload_spec(request.spec)

        await validate(context, check)
        await self.leadership.require(context)
        key = f"{request.namespace}/{request.name}"
        existing = await found(context, self.state.workloads.get(key), f"workload {key}")
        if request.expected_generation and request.expected_generation != existing.generation:
            await context.abort(
                grpc.StatusCode.ABORTED,
                f"expected_generation: workload {key} is at generation {existing.generation}, "
                f"not {request.expected_generation}",
            )
        if existing.spec == request.spec:
            return self.state.workload_view(key) or existing
        await self._reject_if_never_fits(request.spec, context)
        now = time.time()
        resources_changed = existing.spec.resources != request.spec.resources
        # Decided on the current record; a loop's decision on the same record in between
        # (a placement, an ack) is a Conflict: decide again from the new record.
        for attempt in range(3):
            current = await found(context, self.state.workloads.get(key), f"workload {key}")
            if current.generation != existing.generation:
                await context.abort(
                    grpc.StatusCode.ABORTED,
                    f"workload {key} was updated concurrently (generation {current.generation})",
                )
            updated = types_pb2.Workload()
            updated.CopyFrom(current)
            updated.spec.CopyFrom(request.spec)
            updated.generation = current.generation + 1
            updated.priority = resolve_priority(request.spec)
            batch = Batch()
            placement = self.state.placements.get(key)
            if placement is not None and resources_changed:
                # New resources need a new placement: release the old one and requeue.
                # `unplace` writes the updated record (etcd refuses a key twice in a txn).
                self.decisions.unplace(
                    batch, key, placement, "resources changed; requeued", now, record=updated
                )
            else:
                self.decisions.stage_workload(batch, key, updated)
            if await commit_attempt(context, self.decisions, batch, last=attempt == 2):
                break
        self.decisions.events.emit(
            "workload_updated",
            f"workload/{key}",
            f"generation {updated.generation}" + ("; requeued" if resources_changed else ""),
            now,
            generation=updated.generation,
        )
        self.on_change.set()
        return self.state.workload_view(key) or updated

    async def Deregister(
        self, request: workload_pb2.DeregisterWorkloadRequest, context: grpc.aio.ServicerContext
    ) -> workload_pb2.DeregisterWorkloadResponse:
        await validate(context, lambda: check_workload_ref(request.name, request.namespace))
        await self.leadership.require(context)
        key = f"{request.namespace}/{request.name}"
        current = self.state.workloads.get(key)
        if current is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"workload {key} not found")
        service = current.spec.service if current is not None else ""
        owner = self.state.services.get(f"{request.namespace}/{service}") if service else None
        if owner is not None and any(r.workload == request.name for r in owner.replicas):
            # Deleted here, a replica would skip the drain (its requests cut) and its service
            # would start another at once: the service decides how many it has.
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"workload {key} is a replica of service {request.namespace}/{service}: scale "
                f"the service (`aiwo scale {service} --replicas N`) or deregister it instead",
            )
        now = time.time()
        try:
            await retry_conflicts(partial(self.decisions.delete_workload, key, now))
        except Exception as exc:
            await abort_store_error(context, exc)
        self.state.slo.forget(key)
        self.decisions.events.emit("workload_deregistered", f"workload/{key}", "deregistered", now)
        self.on_change.set()
        return workload_pb2.DeregisterWorkloadResponse()

    async def Get(
        self, request: workload_pb2.GetWorkloadRequest, context: grpc.aio.ServicerContext
    ) -> types_pb2.Workload:
        await validate(context, lambda: check_workload_ref(request.name, request.namespace))
        key = f"{request.namespace}/{request.name}"
        view = await found(context, self.state.workload_view(key), f"workload {key}")
        return self.with_slo(key, view)

    def with_slo(self, key: str, view: types_pb2.Workload) -> types_pb2.Workload:
        status = self.state.slo.status(key, time.time())
        if status is not None and status.p99_latency_ms is not None:
            view.p99_latency_ms = status.p99_latency_ms
        return view

    async def Attach(self, request_iterator: object, context: grpc.aio.ServicerContext) -> None:
        hello: workload_pb2.AttachHello = await read_hello(context)
        await validate(context, lambda: check_workload_ref(hello.name, hello.namespace))
        key = f"{hello.namespace}/{hello.name}"
        if self.state.workloads.get(key) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"workload {key} not found")
        # Only the leader accepts: a controller that stopped leading (deposed, or stopping
        # after its resignation) would take the app's queued reports into a stream it is
        # about to end, and they would be lost. Refused, they stay queued for the leader.
        await self.leadership.require(context)
        # Accepted: the SDK counts its stream as open (and what it writes as sent) only once
        # it has read this key. A refusal is trailers-only, without it (an empty initial
        # metadata would look the same as a refusal's to the client).
        await context.send_initial_metadata(((ACCEPTED_METADATA_KEY, "1"),))
        session = self.sessions.open_app(key)
        placement = self.state.placements.get(key)
        if placement is not None:
            session.send(
                types_pb2.Directive(
                    id=uuid.uuid4().hex[:12],
                    kind=types_pb2.DIRECTIVE_KIND_PLACEMENT,
                    workload=key,
                    node=placement.node,
                    gpus=list(placement.gpus),
                    milli_gpu=placement.milli_gpu,
                    reason=placement.reason,
                    time_unix=time.time(),
                )
            )
        if self.migrations is not None:
            # A migration still waiting on this app: its stream may have dropped before the
            # directive or the ack got through. The same id: the SDK re-acks what it handled.
            waiting = self.migrations.unanswered_directive(key, time.time())
            if waiting is not None:
                session.send(waiting)
        reader = asyncio.create_task(self._read(session, context), name=f"app-read-{key}")
        try:
            # Deposed: directives now come from the new leader; the SDK reconnects.
            await pump(context, session.queue, reader, self.leadership, LEADERSHIP_CHECK_S)
        finally:
            self.sessions.close_app(session)

    async def _read(self, session: AppSession, context: grpc.aio.ServicerContext) -> None:
        while True:
            message = await context.read()
            if message is grpc.aio.EOF:
                return
            kind = message.WhichOneof("body")
            STREAM_MESSAGES.labels(stream="app", kind=kind or "empty").inc()
            if kind == "metrics":
                report = message.metrics
                check_metrics(report)  # raises: the stream ends with INVALID_ARGUMENT
                self.state.slo.observe(
                    session.workload,
                    time.time(),
                    list(report.latency_ms),
                    report.throughput_per_s,
                    report.queue_depth,
                    report.throttle_factor if report.HasField("throttle_factor") else None,
                )
            elif kind == "ack" and self.migrations is not None:
                self.migrations.on_directive_ack(session.workload, message.ack)
            if kind == "ack" and not message.ack.ok:
                self.decisions.events.emit(
                    "directive_failed",
                    f"workload/{session.workload}",
                    clip(f"directive {message.ack.directive_id} failed: {message.ack.reason}"),
                    directive_id=clip(message.ack.directive_id, 64),
                )

    async def _reject_if_namespace_full(
        self, namespace: str, context: grpc.aio.ServicerContext
    ) -> None:
        limit = self.max_workloads_per_namespace
        if not limit:
            return
        prefix = f"{namespace}/"
        count = sum(1 for key, _ in self.state.workloads.items() if key.startswith(prefix))
        if count >= limit:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"namespace {namespace!r} holds {count} workloads: the limit is {limit} "
                "(max_workloads_per_namespace); deregister some first",
            )

    async def _reject_if_never_fits(
        self, spec: types_pb2.WorkloadSpec, context: grpc.aio.ServicerContext
    ) -> None:
        # The node arrays the placement pass keeps: building them per Register was most of
        # a Register's time at 1,000 nodes (py-spy, aiwo-bench scale).
        _, nodes = self.state.node_views.arrays(0)
        if nodes.size == 0:
            return  # an empty cluster may still grow: keep it pending
        verdict = never_fits(nodes, Demand.of(request_of(spec.resources)), "")
        if verdict is not None:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"unschedulable: {verdict.reason}"
            )


def _resources_text(res: types_pb2.Resources) -> str:
    if res.gpus == 0:
        return "no GPU"
    if res.milli_gpu and res.milli_gpu < 1000:
        return f"{res.milli_gpu}/1000 of a GPU"
    return f"{res.gpus} GPU" + ("s" if res.gpus > 1 else "")
