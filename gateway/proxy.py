"""The aiohttp handler: one client request in, one replica's answer streamed back.

Thin I/O around the pure parts: `routing` parses the path and filters headers, the
`EndpointTable` picks a replica and counts what is in flight, the `TrafficAggregator`
records what happened. Chunks are written to the client as they arrive (no buffering), so
server-sent events and chunked streams keep their timing.

Failures (docs/gateway.md):
- bad path or unknown service: 404 naming the expected form or the service;
- body over `max_body_bytes`: 413;
- no ready replica within `queue_timeout_s`, or the hold queue full: 503 + Retry-After;
- the replica refused the connection: it is ejected and the request goes to another one
  (nothing was sent, so this is safe for any method), else 502;
- the replica's connection broke after the request was sent: 502 (or, once the answer has
  begun, the client's stream is cut), and the replica is ejected for `eject_s`;
- the replica silent past `upstream_read_timeout_s`: 504.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

import aiohttp
import structlog
from aiohttp import web
from yarl import URL

from gateway.config import GatewayConfig
from gateway.endpoints import EndpointTable, Replica, ServiceKey
from gateway.holds import Holds
from gateway.metrics import GatewayMetrics
from gateway.routing import PATH_FORM, parse_target, request_headers, response_headers
from gateway.traffic import TrafficAggregator

log = structlog.get_logger("aiwo.gateway")

# aiohttp's client adds these unless told not to; a proxy must send only what the client did
# (an Accept-Encoding the client never sent would hand it a compressed body).
_SKIP_AUTO_HEADERS = ("Accept-Encoding", "User-Agent", "Content-Type")
_CONNECT_FAILURES = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
_BROKEN = (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)


@dataclass
class ProxyState:
    config: GatewayConfig
    table: EndpointTable
    holds: Holds
    traffic: TrafficAggregator
    metrics: GatewayMetrics
    session: aiohttp.ClientSession
    on_demand: asyncio.Event  # set when a service's first request is held: report now


class _Gone(Exception):
    """The service was deleted while the request waited."""


class _ClientLeft(Exception):
    """The client closed its connection while its request was held."""


# A held request looks at its client this often: one that left frees its place in the queue.
_HOLD_CHECK_S = 1.0


class ProxyHandler:
    def __init__(self, state: ProxyState) -> None:
        self.s = state
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=state.config.upstream_connect_timeout_s,
            sock_read=state.config.upstream_read_timeout_s,
        )
        self._retry_after = str(max(1, math.ceil(state.config.queue_timeout_s / 4)))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        target = parse_target(request.raw_path)
        if target is None:
            return self._reject("not_found", 404, f"not a gateway path: expected {PATH_FORM}\n")
        key, upstream_path = target
        if not self.s.table.synced and not await self._await_sync(started):
            return self._unavailable(None, "the gateway has no endpoints from the controller yet")
        if not self.s.table.known(key):
            return self._reject("not_found", 404, f"no service {key[0]}/{key[1]}\n")
        self.s.traffic.arrival(key)
        length = request.content_length
        if length is not None and length > self.s.config.max_body_bytes:
            return self._reject_counted(key, "too_large", 413, self._too_large_text())
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._reject_counted(key, "too_large", 413, self._too_large_text())
        try:
            replica = await self._acquire(key, started, request)
        except _Gone:
            return self._reject_counted(key, "not_found", 404, f"no service {key[0]}/{key[1]}\n")
        except _ClientLeft:
            return self._reject_counted(key, "client_closed", 503, "client left\n")
        if replica is None:
            return self._unavailable(key, f"no ready replica of {key[0]}/{key[1]}")
        # The replica(s) this request holds; released here whatever happens below (a
        # cancelled handler included), so no in-flight count can leak.
        holding = [replica]
        try:
            return await self._forward(request, key, holding, upstream_path, body, started)
        finally:
            for held in holding:
                self.s.table.finish(held)

    # -- answers without a replica ---------------------------------------------------------

    def _too_large_text(self) -> str:
        return f"request body over {self.s.config.max_body_bytes} bytes\n"

    def _reject(self, outcome: str, status: int, text: str) -> web.Response:
        self.s.metrics.requests.labels(outcome).inc()
        return web.Response(status=status, text=text)

    def _reject_counted(
        self, key: ServiceKey, outcome: str, status: int, text: str
    ) -> web.Response:
        self.s.traffic.rejected(key)
        return self._reject(outcome, status, text)

    def _unavailable(self, key: ServiceKey | None, why: str) -> web.Response:
        if key is not None:
            self.s.traffic.rejected(key)
        self.s.metrics.requests.labels("unavailable").inc()
        return web.Response(
            status=503, text=why + "; retry later\n", headers={"Retry-After": self._retry_after}
        )

    # -- choosing a replica, holding when there is none ------------------------------------

    async def _await_sync(self, started: float) -> bool:
        deadline = started + self.s.config.queue_timeout_s
        while not self.s.table.synced:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await self.s.holds.wait(remaining)
        return True

    def _take(self, key: ServiceKey, exclude: frozenset[str] = frozenset()) -> Replica | None:
        replica = self.s.table.pick(key, time.monotonic(), exclude)
        if replica is not None:
            self.s.table.start(replica)
        return replica

    async def _acquire(
        self, key: ServiceKey, started: float, request: web.Request
    ) -> Replica | None:
        replica = self._take(key)
        if replica is not None:
            return replica
        first = self.s.holds.enter(key)
        if first is None:
            return None  # the hold queue is full
        if first:
            self.s.on_demand.set()
        log.debug("request_held", namespace=key[0], service=key[1])
        deadline = started + self.s.config.queue_timeout_s
        try:
            while True:
                if not self.s.table.known(key):
                    raise _Gone
                replica = self._take(key)
                if replica is not None:
                    return replica
                now = time.monotonic()
                remaining = deadline - now
                if remaining <= 0:
                    return None
                transport = request.transport
                if transport is None or transport.is_closing():
                    raise _ClientLeft
                back = self.s.table.next_ejection_end_s(key, now)
                wait_s = min(remaining, back - now) if back else remaining
                await self.s.holds.wait(min(wait_s, _HOLD_CHECK_S))
        finally:
            self.s.holds.leave(key)

    # -- forwarding ------------------------------------------------------------------------

    async def _forward(
        self,
        request: web.Request,
        key: ServiceKey,
        holding: list[Replica],
        upstream_path: str,
        body: bytes,
        started: float,
    ) -> web.StreamResponse:
        replica = holding[0]
        headers = request_headers(
            request.headers.items(), request.remote, request.host, request.scheme
        )
        tried: set[str] = set()
        while True:
            tried.add(replica.address)
            url = URL(f"http://{replica.address}{upstream_path}", encoded=True)
            try:
                upstream = await self.s.session.request(
                    request.method,
                    url,
                    headers=headers,
                    data=body or None,
                    allow_redirects=False,
                    auto_decompress=False,
                    skip_auto_headers=_SKIP_AUTO_HEADERS,
                    timeout=self._timeout,
                )
            except _CONNECT_FAILURES as error:
                # Nothing reached the replica: safe to try another one at once.
                self.s.table.finish(holding.pop())
                self.s.traffic.replica_refused(key, replica.name)
                self._eject(key, replica, str(error))
                retry = self._take(key, frozenset(tried))
                if retry is None:
                    self.s.traffic.failed_unrouted(key)
                    self.s.metrics.requests.labels("bad_gateway").inc()
                    return self._bad_gateway(key, replica)
                holding.append(retry)
                replica = retry
                continue
            except _BROKEN as error:
                self._finish(key, replica, started, error=True, eject=True, why=str(error))
                return self._bad_gateway(key, replica)
            except TimeoutError:
                self._finish(key, replica, started, error=True, eject=False, outcome="timeout")
                return web.Response(status=504, text=f"replica {replica.name} timed out\n")
            break
        return await self._stream(request, key, replica, upstream, started)

    async def _stream(
        self,
        request: web.Request,
        key: ServiceKey,
        replica: Replica,
        upstream: aiohttp.ClientResponse,
        started: float,
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in response_headers(upstream.headers.items()):
            response.headers.add(name, value)
        if upstream.content_length is not None and "Transfer-Encoding" not in upstream.headers:
            response.content_length = upstream.content_length
        error = upstream.status >= 500
        last = 0.0
        try:
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                now = time.monotonic()
                if last == 0.0:
                    self.s.traffic.first_byte(key, (now - started) * 1000.0)
                    self.s.metrics.ttft.observe(now - started)
                else:
                    self.s.traffic.chunk_gap(key, (now - last) * 1000.0)
                last = now
                await response.write(chunk)
            if last == 0.0:  # an empty body: the headers were the first byte
                now = time.monotonic()
                self.s.traffic.first_byte(key, (now - started) * 1000.0)
                self.s.metrics.ttft.observe(now - started)
            await response.write_eof()
        except (*_BROKEN, TimeoutError) as exc:
            # The answer has begun: its status cannot change. Cut the client's stream so it
            # sees a broken response, not a short one that looks complete.
            self._finish(key, replica, started, error=True, eject=True, why=repr(exc))
            upstream.close()
            if request.transport is not None:
                request.transport.close()
            return response
        except ConnectionResetError:
            # The client left: not the replica's fault.
            upstream.close()
            self._finish(key, replica, started, error=False, eject=False, outcome="client_closed")
            return response
        finally:
            upstream.release()
        self._finish(
            key, replica, started, error=error, eject=False,
            outcome="replica_error" if error else "ok",
        )  # fmt: skip
        return response

    def _bad_gateway(self, key: ServiceKey, replica: Replica) -> web.Response:
        return web.Response(status=502, text=f"replica {replica.name} of {key[1]} failed\n")

    def _finish(
        self,
        key: ServiceKey,
        replica: Replica,
        started: float,
        *,
        error: bool,
        eject: bool,
        why: str = "",
        outcome: str | None = None,
    ) -> None:
        elapsed_s = time.monotonic() - started
        self.s.traffic.completed(key, replica.name, elapsed_s * 1000.0, error)
        self.s.metrics.latency.observe(elapsed_s)
        if eject:
            self._eject(key, replica, why)
            self.s.metrics.requests.labels("bad_gateway").inc()
        elif outcome is not None:
            self.s.metrics.requests.labels(outcome).inc()

    def _eject(self, key: ServiceKey, replica: Replica, why: str) -> None:
        self.s.table.eject(replica, time.monotonic(), self.s.config.eject_s)
        self.s.metrics.ejections.inc()
        log.warning(
            "replica_ejected",
            namespace=key[0],
            service=key[1],
            replica=replica.name,
            address=replica.address,
            eject_s=self.s.config.eject_s,
            error=why,
        )
