"""AdminService's migration, drain and logs calls: checks, then the leader's collaborators.

Kept apart from admin.py so each module stays one idea; AdminService delegates here.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc

from controlplane.etcd.store import FencingError, StoreUnavailable
from controlplane.leader.decisions import Conflict
from controlplane.leader.drain import drain
from controlplane.leader.migration import MigrationRefused, Migrations
from controlplane.leader.relays import LogRefused, LogRelay, LogsUnavailable
from controlplane.rpc.common import Leadership, abort_store_error, found, validate
from controlplane.rpc.validation import ValidationError, check_name, check_workload_ref
from controlplane.view.cluster import ClusterState
from controlplane.view.sessions import Sessions
from sdk.pb.aiwo.v1 import admin_pb2, migration_pb2

DEFAULT_LOG_TAIL_BYTES = 64 * 1024
MAX_LOG_TAIL_BYTES = 1024 * 1024
MAX_REASON_CHARS = 1024

T = TypeVar("T")


class MigrationApi:
    def __init__(
        self,
        state: ClusterState,
        migrations: Migrations,
        sessions: Sessions,
        logs: LogRelay,
        leadership: Leadership,
    ) -> None:
        self.state = state
        self.migrations = migrations
        self.sessions = sessions
        self.log_relay = logs
        self.leadership = leadership

    async def migrate(
        self, request: admin_pb2.MigrateRequest, context: grpc.aio.ServicerContext
    ) -> migration_pb2.Migration:
        namespace = request.namespace or "default"

        def check() -> None:
            check_workload_ref(request.name, namespace)
            if request.target_node:
                check_name("target_node", request.target_node)
            _check_reason(request.reason)

        await validate(context, check)
        await self.leadership.require(context)
        key = f"{namespace}/{request.name}"
        requested = self.migrations.request(
            key, request.target_node or None, request.reason, "operator"
        )
        return await _carried_out(context, requested)

    async def get(
        self, request: admin_pb2.GetMigrationRequest, context: grpc.aio.ServicerContext
    ) -> migration_pb2.Migration:
        namespace = request.namespace or "default"
        await validate(context, lambda: check_workload_ref(request.name, namespace))
        key = f"{namespace}/{request.name}"
        return await found(context, self.migrations.cache.get(key), f"migration of workload {key}")

    async def list(
        self, request: admin_pb2.ListMigrationsRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ListMigrationsResponse:
        if request.namespace:
            await validate(context, lambda: check_name("namespace", request.namespace))
        prefix = f"{request.namespace}/" if request.namespace else ""
        records = [r for k, r in sorted(self.migrations.cache.items()) if k.startswith(prefix)]
        return admin_pb2.ListMigrationsResponse(migrations=records)

    async def drain(
        self, request: admin_pb2.DrainRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.DrainResponse:
        def check() -> None:
            check_name("name", request.name)
            _check_reason(request.reason)

        await validate(context, check)
        await self.leadership.require(context)
        drained = drain(self.migrations, request.name, request.reason)
        node, moving, skipped = await _carried_out(context, drained)
        view = self.state.node_view(node.name) or node
        return admin_pb2.DrainResponse(node=view, migrations=moving, skipped=skipped)

    async def logs(
        self, request: admin_pb2.LogsRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.LogsResponse:
        namespace = request.namespace or "default"

        def check() -> None:
            check_workload_ref(request.name, namespace)
            if request.node:
                check_name("node", request.node)
            if not 0 <= request.tail_bytes <= MAX_LOG_TAIL_BYTES:
                raise ValidationError("tail_bytes", f"must be 0..{MAX_LOG_TAIL_BYTES}")

        await validate(context, check)
        # The agents' streams end at the leader (followers forward this call there).
        await self.leadership.require(context)
        key = f"{namespace}/{request.name}"
        workload = await found(context, self.state.workload_view(key), f"workload {key}")
        node = request.node or workload.node
        if not node:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"workload {key} has not run on any node"
            )
        if not workload.spec.launch.command:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"workload {key} runs itself (no launch spec): its logs are its own",
            )
        session = self.sessions.agent(node)
        if session is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"node {node} is not connected")
            raise AssertionError("unreachable")
        try:
            reply = await self.log_relay.fetch(
                session, key, request.stderr, request.tail_bytes or DEFAULT_LOG_TAIL_BYTES
            )
        except LogRefused as exc:
            # The node is up and answered; UNAVAILABLE would blame the controller.
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{exc} ({node})")
            raise AssertionError("unreachable") from None
        except LogsUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            raise AssertionError("unreachable") from None
        return admin_pb2.LogsResponse(
            data=reply.data, node=node, truncated=reply.truncated, size_bytes=reply.size_bytes
        )


def _check_reason(reason: str) -> None:
    if len(reason) > MAX_REASON_CHARS:
        raise ValidationError("reason", f"at most {MAX_REASON_CHARS} characters")


async def _carried_out(context: grpc.aio.ServicerContext, pending: Awaitable[T]) -> T:
    """What `pending` (a migration or a drain) returns; a refusal ends the call with NOT_FOUND
    or FAILED_PRECONDITION, a store error with its status (a Conflict: ABORTED, retry)."""
    try:
        return await pending
    except MigrationRefused as exc:
        code = grpc.StatusCode.NOT_FOUND if exc.not_found else grpc.StatusCode.FAILED_PRECONDITION
        await context.abort(code, exc.reason)
    except (FencingError, StoreUnavailable, Conflict) as exc:
        await abort_store_error(context, exc)
    raise AssertionError("unreachable")
