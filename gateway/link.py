"""The gateway's two streams to the controller: endpoints down, traffic reports up.

Never polling: WatchEndpoints is one long-lived server stream (a snapshot first, then one
update per change), re-opened after any failure with jittered exponential backoff; each
fresh stream starts with a snapshot, so nothing needs to be remembered across a restart.
ReportTraffic is one long-lived client stream fed from a small bounded queue: while the
controller is away the oldest reports are dropped (a stale second of traffic is worth less
than a fresh one). With several controller addresses, each reconnection tries the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import grpc.aio
import structlog

from gateway.config import GatewayConfig
from gateway.endpoints import EndpointsChange
from gateway.wire import change_from_proto
from sdk._config import ClientConfig, ReconnectPolicy, TlsConfig
from sdk._target import resolve_target
from sdk._tls import open_channel, resolve_security
from sdk.pb.aiwo.v1 import gateway_pb2, gateway_pb2_grpc

log = structlog.get_logger("aiwo.gateway")

REPORT_QUEUE = 16  # reports held while the stream is down; older ones are dropped


class ControllerLink:
    def __init__(
        self,
        config: GatewayConfig,
        on_change: Callable[[EndpointsChange], None],
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._on_change = on_change
        self._rng = rng or random.Random()
        explicit = [e.strip() for e in config.controller.split(",") if e.strip()]
        self.addresses = explicit or [resolve_target(None)]
        self._policy = ReconnectPolicy(
            initial_backoff_s=config.backoff_initial_s,
            max_backoff_s=config.backoff_max_s,
            multiplier=2.0,
            jitter=0.3,
        )
        self._channels: dict[str, tuple[grpc.aio.Channel, tuple[tuple[str, str], ...]]] = {}
        self._reports: asyncio.Queue[gateway_pb2.TrafficReport] = asyncio.Queue(REPORT_QUEUE)
        self.watch_connected = False
        self.report_connected = False
        self.reports_dropped = 0
        self.reports_sent = 0
        self.watch_reconnects = 0

    def _channel(self, address: str) -> tuple[grpc.aio.Channel, tuple[tuple[str, str], ...]]:
        cached = self._channels.get(address)
        if cached is not None:
            return cached
        c = self._config
        tls: TlsConfig | None
        if c.tls_cert:
            tls = TlsConfig(c.tls_ca, c.tls_cert, c.tls_key, c.tls_server_name)
            token = None
        else:
            security = resolve_security(address, ClientConfig())
            tls, token = security.tls, security.token
            if tls is None:
                log.warning("controller_plaintext", controller=address)
        options = [("grpc.keepalive_time_ms", 10_000), ("grpc.keepalive_timeout_ms", 5_000)]
        channel = open_channel(address, tls, options)
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._channels[address] = (channel, metadata)
        return channel, metadata

    async def _keep_open(
        self,
        run: Callable[[str, Callable[[], None]], Awaitable[None]],
        on_down: Callable[[], None],
        events: tuple[str, str, str],
    ) -> None:
        """Run one stream forever (until cancelled), each controller address in turn:
        `run(address, opened)` returns when the stream ends and calls `opened()` once it is
        up (the backoff then starts over). After each end or failure: log it (`events`: the
        names for ended, lost and failed), `on_down()`, back off, try the next address."""
        ended, lost, failed = events
        attempt = 0
        turn = 0

        def opened() -> None:
            nonlocal attempt
            attempt = 0

        while True:
            address = self.addresses[turn % len(self.addresses)]
            try:
                await run(address, opened)
                log.warning(ended, controller=address)
            except grpc.aio.AioRpcError as error:
                log.warning(
                    lost, controller=address, code=error.code().name, detail=error.details()
                )
            except (OSError, ValueError) as error:  # unreadable TLS files, bad address
                log.error(failed, controller=address, error=str(error))
            on_down()
            attempt += 1
            turn += 1
            await asyncio.sleep(self._policy.delay_s(attempt, self._rng))

    # -- endpoints -------------------------------------------------------------------------

    async def watch(self) -> None:
        """Follow the endpoints forever (until cancelled)."""
        events = ("endpoints_watch_ended", "endpoints_watch_lost", "endpoints_watch_failed")
        await self._keep_open(self._watch_once, self._watch_down, events)

    async def _watch_once(self, address: str, opened: Callable[[], None]) -> None:
        channel, metadata = self._channel(address)
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        call = stub.WatchEndpoints(
            gateway_pb2.WatchEndpointsRequest(gateway=self._config.name), metadata=metadata
        )
        async for update in call:
            if not self.watch_connected:
                log.info("endpoints_watch_open", controller=address)
            self.watch_connected = True
            opened()
            self._on_change(change_from_proto(update))

    def _watch_down(self) -> None:
        self.watch_connected = False
        self.watch_reconnects += 1

    # -- traffic ---------------------------------------------------------------------------

    def send(self, report: gateway_pb2.TrafficReport) -> None:
        """Queue a report for the stream; past the bound the oldest queued one goes."""
        while self._reports.full():
            self._reports.get_nowait()
            self.reports_dropped += 1
        self._reports.put_nowait(report)

    async def _outgoing(self) -> AsyncIterator[gateway_pb2.TrafficReport]:
        while True:
            report = await self._reports.get()
            self.reports_sent += 1
            yield report

    async def report(self) -> None:
        """Keep the ReportTraffic stream open forever (until cancelled)."""
        events = ("traffic_stream_ended", "traffic_stream_lost", "traffic_stream_failed")
        await self._keep_open(self._report_once, self._report_down, events)

    async def _report_once(self, address: str, opened: Callable[[], None]) -> None:
        channel, metadata = self._channel(address)
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        call = stub.ReportTraffic(self._outgoing(), metadata=metadata)
        try:
            waiter = asyncio.ensure_future(call)
            # The call only ends on failure; mark it open once the channel is up.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(channel.channel_ready(), self._config.backoff_max_s)
            if not waiter.done():
                self.report_connected = True
                opened()
            await waiter
        finally:
            call.cancel()

    def _report_down(self) -> None:
        self.report_connected = False

    async def close(self) -> None:
        for channel, _ in self._channels.values():
            await channel.close()
        self._channels.clear()
