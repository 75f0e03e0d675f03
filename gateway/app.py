"""One gateway: the HTTP server, the controller link and the per-interval reporter, wired.

`Gateway(config).start()` binds the ports and starts the loops; `stop()` ends them. Tests
and benchmarks run it in-process; `aiwo-gateway` (main.py) runs it until SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import aiohttp
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.config import GatewayConfig, split_host_port
from gateway.endpoints import EndpointsChange, EndpointTable, ServiceKey
from gateway.holds import Holds
from gateway.link import ControllerLink
from gateway.metrics import GatewayMetrics
from gateway.proxy import ProxyHandler, ProxyState
from gateway.traffic import ReplicaGauge, ServiceGauge, TrafficAggregator
from gateway.wire import report_to_proto
from sdk._tasks import cancel_and_wait

log = structlog.get_logger("aiwo.gateway")


class Gateway:
    def __init__(self, config: GatewayConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self._rng = rng or random.Random()
        self.table = EndpointTable(self._rng)
        self.metrics = GatewayMetrics()
        self.traffic = TrafficAggregator(time.time(), self._rng)
        self.link = ControllerLink(config, self._apply, self._rng)
        self._holds: Holds | None = None
        self._demand: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._runners: list[web.AppRunner] = []
        self._session: aiohttp.ClientSession | None = None
        self.port = 0
        self.metrics_port = 0

    @property
    def holds(self) -> Holds:
        assert self._holds is not None, "start() first"
        return self._holds

    def _apply(self, change: EndpointsChange) -> None:
        self.table.apply(change)
        self.holds.notify()
        log.info(
            "endpoints_updated",
            snapshot=change.snapshot,
            services=len(change.services),
            endpoints=sum(len(s.endpoints) for s in change.services),
        )

    async def start(self) -> None:
        self._holds = Holds(self.config.queue_size)
        self._demand = asyncio.Event()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=30),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # a proxy keeps no cookies of its own
        )
        state = ProxyState(
            self.config,
            self.table,
            self._holds,
            self.traffic,
            self.metrics,
            self._session,
            self._demand,
        )
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_route("*", "/{tail:.*}", ProxyHandler(state).handle)
        host, port = split_host_port(self.config.listen)
        self.port = await self._serve(app, host, port)
        if self.config.metrics_listen:
            metrics_app = web.Application()
            metrics_app.router.add_get("/metrics", self._metrics)
            host, port = split_host_port(self.config.metrics_listen)
            self.metrics_port = await self._serve(metrics_app, host, port)
        self._tasks = [
            asyncio.create_task(self.link.watch(), name="endpoints-watch"),
            asyncio.create_task(self.link.report(), name="traffic-stream"),
            asyncio.create_task(self._report_loop(), name="traffic-reports"),
        ]
        log.info(
            "gateway_listening",
            listen=f"{host}:{self.port}",
            metrics_port=self.metrics_port,
            controller=",".join(self.link.addresses),
            name=self.config.name,
        )

    async def _serve(self, app: web.Application, host: str, port: int) -> int:
        # No access log: one line per request is what the per-second reports replace.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
        await site.start()
        self._runners.append(runner)
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []
        for runner in reversed(self._runners):
            await runner.cleanup()  # lets in-flight requests finish (shutdown_timeout)
        self._runners = []
        if self._session is not None:
            await self._session.close()
        await self.link.close()

    # -- reports ---------------------------------------------------------------------------

    def gauges(self) -> dict[ServiceKey, ServiceGauge]:
        held = self.holds.counts()
        gauges: dict[ServiceKey, ServiceGauge] = {}
        forgotten: dict[ServiceKey, list[str]] = {}
        for replica in self.table.take_forgotten():
            forgotten.setdefault(replica.service, []).append(replica.name)
        for key in set(self.table.services()) | set(held) | set(forgotten):
            # Per replica name: in flight, and whether every entry of that name is draining
            # (a replica restarted on a new address is listed once more under its name).
            per_name: dict[str, tuple[int, bool]] = dict.fromkeys(forgotten.get(key, ()), (0, True))
            for replica in self.table.replicas(key):
                count, draining = per_name.get(replica.name, (0, True))
                per_name[replica.name] = (
                    count + replica.in_flight,
                    draining and not replica.listed,
                )
            gauges[key] = ServiceGauge(
                in_flight=sum(count for count, _ in per_name.values()),
                queued=held.get(key, 0),
                replicas=tuple(
                    ReplicaGauge(name, count, draining)
                    for name, (count, draining) in sorted(per_name.items())
                ),
            )
        return gauges

    def flush_report(self) -> None:
        interval = self.traffic.flush(time.time(), self.gauges())
        self.link.send(report_to_proto(self.config.name, interval))
        self._update_metrics()

    async def _report_loop(self) -> None:
        assert self._demand is not None
        interval_s = self.config.report_interval_s
        next_s = time.monotonic() + interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._demand.wait(), max(0.0, next_s - time.monotonic()))
            if self._demand.is_set():
                # A service's first held request: the controller hears of it now, in a
                # shorter interval, instead of up to a second later.
                self._demand.clear()
                self.flush_report()
                continue
            self.flush_report()
            next_s += interval_s
            if next_s < time.monotonic():  # fell behind (a stalled loop): do not burst
                next_s = time.monotonic() + interval_s

    def _update_metrics(self) -> None:
        now = time.monotonic()
        m = self.metrics
        states = {"ready": 0, "ejected": 0, "draining": 0}
        in_flight = 0
        for key in self.table.services():
            for replica in self.table.replicas(key):
                in_flight += replica.in_flight
                if not replica.listed:
                    states["draining"] += 1
                elif replica.routable(now):
                    states["ready"] += 1
                else:
                    states["ejected"] += 1
        for state, count in states.items():
            m.replicas.labels(state).set(count)
        m.in_flight.set(in_flight)
        m.held.set(self.holds.total())
        m.services.set(sum(1 for key in self.table.services() if self.table.known(key)))
        m.controller_connected.set(1 if self.link.watch_connected else 0)
        m.reports_sent.set(self.link.reports_sent)
        m.reports_dropped.set(self.link.reports_dropped)

    # -- small endpoints -------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        if self.table.synced:
            return web.Response(text="ok\n")
        return web.Response(status=503, text="no endpoints from the controller yet\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        self._update_metrics()
        return web.Response(
            body=generate_latest(self.metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )
