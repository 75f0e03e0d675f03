"""AdminService: what the CLI and operators call. Reads come from the cache."""

from __future__ import annotations

import asyncio
import time

import grpc

from controlplane.auth.principal import ANONYMOUS, current_principal
from controlplane.leader.decisions import Decisions
from controlplane.leader.health import clear_marks, node_gpu_indexes
from controlplane.optimizer import OptimizerConfig, explain
from controlplane.rpc.common import (
    Leadership,
    abort_invalid,
    abort_store_error,
    found,
    retry_conflicts,
    validate,
)
from controlplane.rpc.migration_api import MigrationApi
from controlplane.rpc.validation import ValidationError, check_name, check_page, check_workload_ref
from controlplane.view.cluster import ClusterState
from controlplane.view.serving_explain import explain_service, service_explanation
from controlplane.view.snapshot import build_snapshot
from sdk.pb.aiwo.v1 import admin_pb2, admin_pb2_grpc, migration_pb2, types_pb2

DEFAULT_PAGE_SIZE = 500  # workloads per ListWorkloads reply when the request names none
DEFAULT_EVENT_LIMIT = 100
MAX_EVENT_LIMIT = 10_000


class AdminService(admin_pb2_grpc.AdminServiceServicer):
    def __init__(
        self,
        state: ClusterState,
        decisions: Decisions,
        leadership: Leadership,
        optimizer_config: OptimizerConfig,
        info: admin_pb2.ClusterInfoResponse,
        on_change: asyncio.Event,
        migration_api: MigrationApi | None = None,
    ) -> None:
        self.migration_api = migration_api
        self.state = state
        self.decisions = decisions
        self.leadership = leadership
        self.optimizer_config = optimizer_config
        self.info = info
        self.on_change = on_change

    async def ListNodes(
        self, request: admin_pb2.ListNodesRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ListNodesResponse:
        names = sorted(name for name, _ in self.state.nodes.items())
        views = [self.state.node_view(name) for name in names]
        return admin_pb2.ListNodesResponse(nodes=[v for v in views if v is not None])

    async def GetNode(
        self, request: admin_pb2.GetNodeRequest, context: grpc.aio.ServicerContext
    ) -> types_pb2.Node:
        await validate(context, lambda: check_name("name", request.name))
        view = await found(context, self.state.node_view(request.name), f"node {request.name}")
        return view

    async def ListGpus(
        self, request: admin_pb2.ListGpusRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ListGpusResponse:
        if request.node:
            await validate(context, lambda: check_name("node", request.node))
            if self.state.nodes.get(request.node) is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"node {request.node} not found")
            names = [request.node]
        else:
            names = sorted(name for name, _ in self.state.nodes.items())
        gpus = [gpu for name in names for gpu in self.state.gpu_views(name)]
        return admin_pb2.ListGpusResponse(gpus=gpus)

    async def ListWorkloads(
        self, request: admin_pb2.ListWorkloadsRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ListWorkloadsResponse:
        if request.namespace:
            await validate(context, lambda: check_name("namespace", request.namespace))
        await validate(context, lambda: check_page(request.page_size, request.page_token))
        page_size = request.page_size or DEFAULT_PAGE_SIZE
        prefix = f"{request.namespace}/" if request.namespace else ""
        # The token is the last key of the previous page: the next page starts after it, so
        # a workload added or removed meanwhile never shifts what the pages hold.
        # Only what the caller may see is paged (the interceptor filters replies too, but a
        # page emptied after the fact would still carry a token naming a hidden workload).
        after = request.page_token
        caller = current_principal.get() or ANONYMOUS
        keys = sorted(
            key
            for key, _ in self.state.workloads.items()
            if key.startswith(prefix) and key > after and caller.may_use(key.split("/", 1)[0])
        )
        more = len(keys) > page_size
        keys = keys[:page_size]
        now = time.time()
        views = []
        for key in keys:
            view = self.state.workload_view(key)
            if view is None:
                continue
            status = self.state.slo.status(key, now)
            if status is not None and status.p99_latency_ms is not None:
                view.p99_latency_ms = status.p99_latency_ms
            views.append(view)
        token = keys[-1] if more and keys else ""
        return admin_pb2.ListWorkloadsResponse(workloads=views, next_page_token=token)

    async def ListEvents(
        self, request: admin_pb2.ListEventsRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ListEventsResponse:
        if not 0 <= request.limit <= MAX_EVENT_LIMIT:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"limit: must be 0..{MAX_EVENT_LIMIT}"
            )
        if len(request.object) > 300:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "object: too long")
        limit = request.limit or DEFAULT_EVENT_LIMIT
        return admin_pb2.ListEventsResponse(events=self.state.events_for(request.object, limit))

    async def Cordon(
        self, request: admin_pb2.CordonRequest, context: grpc.aio.ServicerContext
    ) -> types_pb2.Node:
        return await self._set_cordon(request, context, cordoned=True)

    async def Uncordon(
        self, request: admin_pb2.CordonRequest, context: grpc.aio.ServicerContext
    ) -> types_pb2.Node:
        return await self._set_cordon(request, context, cordoned=False)

    async def _set_cordon(
        self, request: admin_pb2.CordonRequest, context: grpc.aio.ServicerContext, cordoned: bool
    ) -> types_pb2.Node:
        clearing = request.clear_all_unhealthy or bool(request.clear_unhealthy_gpus)

        def check() -> None:
            check_name("name", request.name)
            if len(request.reason) > 1024:
                raise ValidationError("reason", "at most 1024 characters")
            if clearing and cordoned:
                raise ValidationError("clear_unhealthy_gpus", "only with Uncordon")

        await validate(context, check)
        await self.leadership.require(context)
        node = await found(context, self.state.nodes.get(request.name), f"node {request.name}")
        indexes = node_gpu_indexes(node)
        unknown = sorted(set(request.clear_unhealthy_gpus) - indexes)
        if unknown:
            why = f"node {node.name} has no GPU {unknown[0]}"
            await abort_invalid(context, ValidationError("clear_unhealthy_gpus", why))
        gpus = None if request.clear_all_unhealthy else list(request.clear_unhealthy_gpus)
        cleared: dict[int, str] = {}
        if node.cordoned != cordoned or (clearing and node.unhealthy_gpus):
            reason = (request.reason or "cordoned by an operator") if cordoned else ""

            async def write() -> None:
                # From the current record each time: liveness may have rewritten it.
                current = self.state.nodes.get(request.name)
                if current is None:
                    return
                updated = types_pb2.Node()
                updated.CopyFrom(current)
                updated.cordoned = cordoned
                updated.reason = reason
                cleared.clear()
                if clearing:
                    cleared.update(clear_marks(updated, gpus))
                await self.decisions.commit_node(updated)

            try:
                await retry_conflicts(write)
            except Exception as exc:
                await abort_store_error(context, exc)
            if node.cordoned != cordoned:
                self.decisions.events.emit(
                    "node_cordoned" if cordoned else "node_uncordoned",
                    f"node/{request.name}",
                    reason or "uncordoned",
                )
            for index, was in sorted(cleared.items()):
                self.decisions.events.emit(
                    "gpu_health_cleared",
                    f"node/{request.name}",
                    f"GPU {index} back in service (it was unhealthy: {was})",
                    gpu=index,
                    was=was,
                )
            self.on_change.set()
        view = self.state.node_view(request.name)
        assert view is not None
        return view

    async def Describe(
        self, request: admin_pb2.DescribeRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.DescribeResponse:
        if request.kind == "node":
            await validate(context, lambda: check_name("name", request.name))
            view = await found(context, self.state.node_view(request.name), f"node {request.name}")
            return admin_pb2.DescribeResponse(
                node=view,
                gpus=self.state.gpu_views(request.name),
                events=self.state.events_of(f"node/{request.name}", 50),
            )
        if request.kind == "workload":
            namespace = request.namespace or "default"
            await validate(context, lambda: check_workload_ref(request.name, namespace))
            key = f"{namespace}/{request.name}"
            workload = await found(context, self.state.workload_view(key), f"workload {key}")
            status = self.state.slo.status(key, time.time())
            if status is not None and status.p99_latency_ms is not None:
                workload.p99_latency_ms = status.p99_latency_ms
            gpus = [g for g in self.state.gpu_views(workload.node) if g.index in workload.gpus]
            return admin_pb2.DescribeResponse(
                workload=workload,
                gpus=gpus,
                events=self.state.events_of(f"workload/{key}", 50, workload.created_unix),
            )
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"kind: must be 'node' or 'workload', got {request.kind!r}",
        )
        raise AssertionError("unreachable")

    async def Explain(
        self, request: admin_pb2.ExplainRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.Explanation:
        namespace = request.namespace or "default"
        await validate(context, lambda: check_workload_ref(request.name, namespace))
        key = f"{namespace}/{request.name}"
        service = self.state.services.get(key)
        if service is not None and self.state.workloads.get(key) is None:
            # A service: why it has the replicas it has, and what blocks it.
            blocked = self.state.scale_blocked.get(key, "")
            reason = self.state.scale_reason.get(key, "")
            return admin_pb2.Explanation(
                summary=explain_service(service, blocked, reason),
                events=self.state.events_of(f"service/{key}", 50, service.created_unix),
                service=service_explanation(service, blocked, reason),
            )
        what = f"service or workload {key}"  # explain takes either: say both were looked for
        workload = await found(context, self.state.workload_view(key), what)
        result = explain(build_snapshot(self.state), key, self.optimizer_config)
        return admin_pb2.Explanation(
            workload=workload,
            summary=result.summary,
            nodes_total=result.nodes_total,
            nodes_feasible=result.nodes_feasible,
            rejections=dict(result.rejections),
            candidates=[
                admin_pb2.Candidate(node=c.node, score=c.score, gpus=list(c.gpus))
                for c in result.candidates
            ],
            events=self.state.events_of(f"workload/{key}", 50, workload.created_unix),
        )

    async def ClusterInfo(
        self, request: admin_pb2.ClusterInfoRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ClusterInfoResponse:
        info = admin_pb2.ClusterInfoResponse()
        info.CopyFrom(self.info)
        info.epoch = self.decisions.store.epoch
        info.leader = self.decisions.store.epoch > 0
        return info

    # ------------------------------------------------------------ migration, drain, logs

    def _api(self) -> MigrationApi:
        assert self.migration_api is not None, "the controller composes a MigrationApi"
        return self.migration_api

    async def Migrate(
        self, request: admin_pb2.MigrateRequest, context: grpc.aio.ServicerContext
    ) -> migration_pb2.Migration:
        return await self._api().migrate(request, context)

    async def GetMigration(
        self, request: admin_pb2.GetMigrationRequest, context: grpc.aio.ServicerContext
    ) -> migration_pb2.Migration:
        return await self._api().get(request, context)

    async def ListMigrations(
        self, request: admin_pb2.ListMigrationsRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ListMigrationsResponse:
        return await self._api().list(request, context)

    async def Drain(
        self, request: admin_pb2.DrainRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.DrainResponse:
        response = await self._api().drain(request, context)
        self.on_change.set()
        return response

    async def Logs(
        self, request: admin_pb2.LogsRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.LogsResponse:
        return await self._api().logs(request, context)
