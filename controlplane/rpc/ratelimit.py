"""Requests per second per client: a token bucket per caller, in front of every servicer.

A caller is its token's id when it presents a valid bearer token (so one application keeps
its budget from any address, and clients behind one NAT do not share one), else its
address without the port (a reconnect must not buy a fresh bucket). A token that does not
authenticate counts as its address: made-up token ids would otherwise each get a bucket.

Without tokens every local client shares 127.0.0.1, and writes a follower forwards count
against the follower's address on the leader: the default budget is sized for that.
Health checks are never limited (probes must see a busy controller as alive). A refused
call gets RESOURCE_EXHAUSTED naming the limit and when to retry; stream calls count once,
at their start, not per message.
"""

from __future__ import annotations

import inspect
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from prometheus_client import Counter

from controlplane.app.config import ControllerConfig
from controlplane.auth.interceptor import bearer_token
from controlplane.auth.tokens import AuthenticationError, TokenStore
from sdk._metadata import RETRY_AFTER_METADATA_KEY

RATE_LIMITED = Counter(
    "aiwo_rate_limited_total", "Calls refused by the per-client rate limit.", ["method"]
)
EXEMPT_PREFIXES = ("/grpc.health.v1.Health/",)
MAX_CLIENTS = 10_000  # buckets kept; the least recently seen client is forgotten (starts full)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Pure: the clock comes in as an argument. `rate_per_s` <= 0 disables the limit."""

    def __init__(self, rate_per_s: float, burst: int, max_clients: int = MAX_CLIENTS) -> None:
        self.rate_per_s = rate_per_s
        self.burst = max(burst, 1)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0

    def admit(self, client: str, now: float) -> float:
        """0.0 when the call may go ahead; else the seconds until it could."""
        if not self.enabled:
            return 0.0
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[client] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            elapsed = max(now - bucket.updated, 0.0)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_s)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate_per_s


def peer_address(peer: str) -> str:
    """ "ipv4:10.0.0.7:53211" -> "ipv4:10.0.0.7"; "ipv6:[::1]:5" -> "ipv6:[::1]"."""
    host, sep, port = peer.rpartition(":")
    return host if sep and port.isdigit() else peer


class RateLimitInterceptor(grpc.aio.ServerInterceptor):
    """`identify(token)`: the token's id when it authenticates, else None (None: tokens are
    not in use, every caller is its address)."""

    def __init__(
        self,
        limiter: RateLimiter,
        identify: Callable[[str], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limiter = limiter
        self.identify = identify
        self.clock = clock

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if (
            handler is None
            or not self.limiter.enabled
            or details.method.startswith(EXEMPT_PREFIXES)
        ):
            return handler
        token = bearer_token(details.invocation_metadata) if self.identify else None
        return _wrap(handler, lambda context: self._check(details.method, token, context))

    async def _check(
        self, method: str, token: str | None, context: grpc.aio.ServicerContext
    ) -> None:
        client = None
        if token is not None and self.identify is not None:
            token_id = self.identify(token)
            client = f"token:{token_id}" if token_id else None
        if client is None:
            client = peer_address(context.peer() or "unknown")
        wait_s = self.limiter.admit(client, self.clock())
        if wait_s <= 0:
            return
        RATE_LIMITED.labels(method=method.rsplit("/", 1)[-1]).inc()
        context.set_trailing_metadata(((RETRY_AFTER_METADATA_KEY, str(int(wait_s * 1000) + 1)),))
        await context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"rate limit: at most {self.limiter.rate_per_s:g} requests/s per client "
            f"(burst {self.limiter.burst}; rate_limit_rps, rate_limit_burst); "
            f"retry in {wait_s:.2f}s",
        )


def _wrap(
    handler: grpc.RpcMethodHandler,
    check: Callable[[grpc.aio.ServicerContext], Awaitable[None]],
) -> grpc.RpcMethodHandler:
    codec = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(_adapt(handler.unary_unary, check), **codec)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(_adapt(handler.unary_stream, check), **codec)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(_adapt(handler.stream_unary, check), **codec)
    return grpc.stream_stream_rpc_method_handler(_adapt(handler.stream_stream, check), **codec)


def _adapt(
    inner: Callable[..., Any], check: Callable[[grpc.aio.ServicerContext], Awaitable[None]]
) -> Callable[..., Any]:
    # grpc.aio tells an async-generator handler from a coroutine by the function's kind, so
    # the wrapper must be of the same kind (as in controlplane/auth/interceptor.py).
    if inspect.isasyncgenfunction(inner):

        async def generator(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await check(context)
            async for item in inner(request, context):
                yield item

        return generator

    async def coroutine(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await check(context)
        return await inner(request, context)

    return coroutine


def rate_limit_interceptor(config: ControllerConfig, tokens: TokenStore) -> RateLimitInterceptor:
    """The controller's limiter, from its configuration."""

    def identify(token: str) -> str | None:
        try:
            return tokens.authenticate(token).id
        except AuthenticationError:
            return None

    limiter = RateLimiter(config.rate_limit_rps, config.rate_limit_burst)
    return RateLimitInterceptor(limiter, identify if config.auth == "token" else None)
