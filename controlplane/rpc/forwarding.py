"""Followers forward writes and application streams to the leader, byte for byte.

Reads are served from every replica's own cache, except those of telemetry, which only
the leader receives (FORWARDED_READS). Writes and WorkloadService.Attach go to the leader:
a follower proxies them over one channel, without decoding them (the handler is replaced
by one that takes and returns raw bytes), so every status and message the leader
produces reaches the caller unchanged. Agents are not proxied: NodeService refuses on a
follower and names the leader, and agents connect there directly, so that liveness is
judged on a direct stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog

from controlplane.rpc.common import Leadership

log = structlog.get_logger("aiwo.forwarding")

FORWARDED_UNARY = frozenset(
    {
        "/aiwo.v1.WorkloadService/Register",
        "/aiwo.v1.WorkloadService/Update",
        "/aiwo.v1.WorkloadService/Deregister",
        "/aiwo.v1.AdminService/Cordon",
        "/aiwo.v1.AdminService/Uncordon",
        "/aiwo.v1.AdminService/Migrate",
        "/aiwo.v1.AdminService/Drain",
        "/aiwo.v1.ServingService/CreateService",
        "/aiwo.v1.ServingService/ScaleService",
        "/aiwo.v1.ServingService/UpdateService",
        "/aiwo.v1.ServingService/DeleteService",
        # A read, but only the leader holds the agents' streams the logs come through.
        "/aiwo.v1.AdminService/Logs",
    }
)
# Reads of what only the leader knows: agents stream telemetry (power, temperature,
# heartbeats, energy, p99 and SLO status) to the leader alone, so a follower's own view of
# it is stale or empty. A follower forwards these; when the leader cannot be reached it
# answers from its own view rather than not at all (a failover is under way).
FORWARDED_READS = frozenset(
    {
        "/aiwo.v1.AdminService/ListNodes",
        "/aiwo.v1.AdminService/GetNode",
        "/aiwo.v1.AdminService/ListGpus",
        "/aiwo.v1.AdminService/ListWorkloads",
        "/aiwo.v1.AdminService/Describe",
        "/aiwo.v1.AdminService/Explain",
        "/aiwo.v1.WorkloadService/Get",
    }
)
READ_TIMEOUT_S = 5.0  # then the follower's own (possibly stale) answer is better than none
_LEADER_UNREACHABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
FORWARDED_STREAMS = frozenset({"/aiwo.v1.WorkloadService/Attach"})
# Metadata worth carrying to the leader (credentials); grpc's own keys are not.
_PASSED_METADATA = ("authorization",)
REFRESH_TIMEOUT_S = 2.0  # how long a write waits to learn who leads before it is refused


class Forwarder:
    def __init__(
        self,
        leadership: Leadership,
        own_address: Callable[[], str],
        open_channel: Callable[[str], grpc.aio.Channel] = grpc.aio.insecure_channel,
        refresh: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._leadership = leadership
        self._own_address = own_address
        self._open_channel = open_channel  # TLS between replicas when the cluster uses it
        self._refresh = refresh  # asks etcd who leads now
        self._channel: grpc.aio.Channel | None = None
        self._channel_target = ""

    def target(self) -> str | None:
        """Where to forward now, or None to handle the call here."""
        if self._leadership.is_leader:
            return None
        leader = self._leadership.leader_address
        if not leader or leader == self._own_address():
            return None  # unknown leader: the handler answers UNAVAILABLE itself
        return leader

    async def resolve(self) -> str | None:
        """`target()`, after asking etcd who leads when this replica does not know yet
        (it just started, or the leader just changed): a write should not fail for that."""
        target = self.target()
        if target is None and not self._leadership.is_leader and self._refresh is not None:
            # Bounded: with etcd out of quorum the read would hang for the store's whole
            # retry budget, and the caller's deadline with it. Unknown: the handler answers.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._refresh(), REFRESH_TIMEOUT_S)
            target = self.target()
        return target

    def channel(self, target: str) -> grpc.aio.Channel:
        if self._channel is None or self._channel_target != target:
            old = self._channel
            self._channel = self._open_channel(target)
            self._channel_target = target
            if old is not None:
                asyncio.get_running_loop().create_task(old.close())
        return self._channel

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()


def _metadata(context: grpc.aio.ServicerContext) -> tuple[tuple[str, str], ...]:
    return tuple(
        (key, value)
        for key, value in (context.invocation_metadata() or ())
        if key in _PASSED_METADATA
    )


class ForwardingInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, forwarder: Forwarder) -> None:
        self._forwarder = forwarder

    async def _read(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """A telemetry read: the leader's answer, else this replica's own."""
        local = await continuation(details)
        target = self._forwarder.target()  # no etcd round trip: a read must stay cheap
        if target is None or local is None or local.unary_unary is None:
            return local
        forwarder, method = self._forwarder, details.method
        deserialize, serialize = local.request_deserializer, local.response_serializer
        handle = local.unary_unary

        async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            call = forwarder.channel(target).unary_unary(method)
            try:
                return await call(request, metadata=_metadata(context), timeout=READ_TIMEOUT_S)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in _LEADER_UNREACHABLE:
                    await context.abort(exc.code(), exc.details() or "")
                    raise AssertionError("unreachable") from None
                log.info("read_served_locally", method=method, leader=target, code=exc.code().name)
            reply = await handle(deserialize(request) if deserialize else request, context)
            return serialize(reply) if serialize else reply

        return grpc.unary_unary_rpc_method_handler(unary)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = details.method
        if method in FORWARDED_READS:
            return await self._read(continuation, details)
        if method not in FORWARDED_UNARY and method not in FORWARDED_STREAMS:
            return await continuation(details)
        target = await self._forwarder.resolve()
        if target is None:
            return await continuation(details)
        forwarder = self._forwarder
        if method in FORWARDED_UNARY:

            async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
                call = forwarder.channel(target).unary_unary(method)
                try:
                    return await call(request, metadata=_metadata(context), timeout=30)
                except grpc.aio.AioRpcError as exc:
                    await context.abort(exc.code(), exc.details() or "")
                    raise AssertionError("unreachable") from None

            return grpc.unary_unary_rpc_method_handler(unary)

        async def stream(
            requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
        ) -> AsyncIterator[bytes]:
            call: Any = forwarder.channel(target).stream_stream(method)(metadata=_metadata(context))

            async def pump_up() -> None:
                async for request in requests:
                    await call.write(request)
                await call.done_writing()

            pump = asyncio.create_task(pump_up())
            try:
                # The leader's acceptance (initial metadata) is the client's sign that its
                # stream is open: relay it before any message.
                await context.send_initial_metadata(tuple(await call.initial_metadata() or ()))
                async for response in call:
                    yield response
            except grpc.aio.AioRpcError as exc:
                await context.abort(exc.code(), exc.details() or "")
            finally:
                pump.cancel()
                with contextlib.suppress(BaseException):
                    await pump
                call.cancel()

        return grpc.stream_stream_rpc_method_handler(stream)
