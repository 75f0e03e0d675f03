"""One gRPC channel to the controller, and the translation of its failures.

`open_channel` probes the controller once (the standard health-check method), so that a
wrong address fails in `connect` with one clear line instead of at the first real call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc
import grpc.aio

from sdk._config import ClientConfig, TlsConfig
from sdk._errors import AiwoError, ControllerUnavailable, from_rpc_error
from sdk._target import resolve_target
from sdk._tls import open_channel, resolve_security, with_token

T = TypeVar("T")

_HEALTH_CHECK = "/grpc.health.v1.Health/Check"


class Connection:
    """A channel, the address it points at, and call metadata."""

    def __init__(self, channel: grpc.aio.Channel, target: str, config: ClientConfig) -> None:
        self.channel = channel
        self.target = target
        self.config = config
        self.metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {config.token}"),) if config.token else ()
        )

    async def call(self, method: Callable[..., Awaitable[T]], request: Any) -> T:
        """Run one unary call with the configured deadline; raise typed errors."""
        try:
            return await method(request, timeout=self.config.rpc_timeout_s, metadata=self.metadata)
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error, self.target) from None

    def error(self, error: grpc.RpcError) -> AiwoError:
        return from_rpc_error(error, self.target)

    async def close(self) -> None:
        await self.channel.close()


async def open_connection(target: str | None, config: ClientConfig) -> Connection:
    address = resolve_target(target)
    security = resolve_security(address, config)
    channel = open_channel(address, security.tls)
    connection = Connection(channel, address, with_token(config, security))
    try:
        await _probe(connection)
    except ControllerUnavailable as error:
        await channel.close()
        raise _with_tls_hint(error, security.tls) from None
    except BaseException:
        await channel.close()
        raise
    return connection


def _with_tls_hint(error: ControllerUnavailable, tls: TlsConfig | None) -> ControllerUnavailable:
    """A controller that requires mutual TLS closes other connections without a word;
    say what is probably missing."""
    if error.reachable or error.detail != "connection closed":
        return error
    if tls is None:
        hint = "it may require TLS: give --tls-ca, --tls-cert and --tls-key (or AIWO_TLS_*)"
    elif not tls.cert_file:
        hint = "it may require a client certificate: give --tls-cert and --tls-key"
    else:
        return error
    return ControllerUnavailable(error.target, f"{error.detail}; {hint}")


async def _probe(connection: Connection) -> None:
    # Raw bytes in and out: an empty HealthCheckRequest is zero bytes, and only
    # reachability matters here. Without wait_for_ready the call fails as soon as the
    # connection is refused, instead of waiting out the whole timeout.
    check = connection.channel.unary_unary(_HEALTH_CHECK)
    try:
        await check(b"", timeout=connection.config.connect_timeout_s, metadata=connection.metadata)
    except grpc.aio.AioRpcError as error:
        if error.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.NOT_FOUND):
            return  # reachable, just without the health service
        if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise ControllerUnavailable(connection.target, "timed out") from None
        raise from_rpc_error(error, connection.target) from None


class ConnectionClient:
    """What the SDK's async clients share: one Connection, opened by `connect`, closed by
    `close` or `async with`."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @classmethod
    async def connect(
        cls, target: str | None = None, *, config: ClientConfig | None = None
    ) -> Self:
        """Connect to the controller at `target` (else $AIWO_CONTROLLER, else the
        cluster `aiwo up` recorded). Raises `ControllerUnavailable` if it is not there."""
        return cls(await open_connection(target, config or ClientConfig()))

    @property
    def target(self) -> str:
        return self._connection.target

    async def close(self) -> None:
        await self._connection.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
