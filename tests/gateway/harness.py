"""Real parts for the gateway's tests: a grpc.aio GatewayService standing in for the
controller (it feeds endpoints and keeps every TrafficReport), and aiohttp replicas."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import grpc.aio
from aiohttp import web

from sdk.pb.aiwo.v1 import gateway_pb2, gateway_pb2_grpc


class FakeController(gateway_pb2_grpc.GatewayServiceServicer):
    """The controller's side of GatewayService, driven by the test."""

    def __init__(self) -> None:
        self.services: dict[tuple[str, str], gateway_pb2.ServiceEndpoints] = {}
        self.reports: list[gateway_pb2.TrafficReport] = []
        self.watchers: list[asyncio.Queue[gateway_pb2.EndpointsUpdate]] = []
        self.watch_calls = 0
        self.peers: list[dict[str, list[bytes]]] = []  # auth context of each watch
        self.server: grpc.aio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0, credentials: grpc.ServerCredentials | None = None) -> str:
        self.server = grpc.aio.server()
        gateway_pb2_grpc.add_GatewayServiceServicer_to_server(self, self.server)
        address = f"127.0.0.1:{port}"
        if credentials is None:
            self.port = self.server.add_insecure_port(address)
        else:
            self.port = self.server.add_secure_port(address, credentials)
        await self.server.start()
        return f"127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=None)
            self.server = None
        self.watchers.clear()

    def set(
        self,
        name: str,
        endpoints: dict[str, str],
        namespace: str = "default",
        max_replicas: int = 4,
    ) -> None:
        """List a service's ready endpoints (replica -> host:port); max_replicas 0 deletes."""
        entry = gateway_pb2.ServiceEndpoints(
            namespace=namespace,
            name=name,
            endpoints=[
                gateway_pb2.Endpoint(replica=r, address=a) for r, a in sorted(endpoints.items())
            ],
            max_replicas=max_replicas,
        )
        if max_replicas == 0:
            self.services.pop((namespace, name), None)
        else:
            self.services[(namespace, name)] = entry
        update = gateway_pb2.EndpointsUpdate(snapshot=False, services=[entry])
        for queue in self.watchers:
            queue.put_nowait(update)

    async def WatchEndpoints(
        self, request: gateway_pb2.WatchEndpointsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.EndpointsUpdate]:
        self.watch_calls += 1
        self.peers.append(dict(context.auth_context()))
        queue: asyncio.Queue[gateway_pb2.EndpointsUpdate] = asyncio.Queue()
        self.watchers.append(queue)
        try:
            yield gateway_pb2.EndpointsUpdate(snapshot=True, services=list(self.services.values()))
            while True:
                yield await queue.get()
        finally:
            with contextlib.suppress(ValueError):
                self.watchers.remove(queue)

    async def ReportTraffic(
        self,
        request_iterator: AsyncIterator[gateway_pb2.TrafficReport],
        context: grpc.aio.ServicerContext,
    ) -> gateway_pb2.ReportTrafficResponse:
        async for report in request_iterator:
            self.reports.append(report)
        return gateway_pb2.ReportTrafficResponse()

    # -- what the tests read ---------------------------------------------------------------

    def service_reports(
        self, name: str, namespace: str = "default"
    ) -> list[tuple[gateway_pb2.TrafficReport, gateway_pb2.ServiceTraffic]]:
        return [
            (report, s)
            for report in self.reports
            for s in report.services
            if s.name == name and s.namespace == namespace
        ]

    def total(self, name: str, field_name: str) -> int:
        return sum(int(getattr(s, field_name)) for _, s in self.service_reports(name))


@dataclass
class Replica:
    """An aiohttp server standing in for one replica of a service."""

    name: str
    runner: web.AppRunner | None = None
    port: int = 0
    seen: list[str] = field(default_factory=list)  # raw paths of the requests it got
    release: asyncio.Event = field(default_factory=asyncio.Event)  # /hold answers once set
    in_handler: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> Replica:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/echo{tail:.*}", self._echo)
        app.router.add_get("/hold", self._hold)
        app.router.add_get("/sse", self._sse)
        app.router.add_get("/die-before", self._die_before)
        app.router.add_get("/die-during", self._die_during)
        app.router.add_get("/status/{code}", self._status)
        app.router.add_get("/gzip", self._gzip)
        app.router.add_get("/slow", self._slow)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def _echo(self, request: web.Request) -> web.Response:
        self.seen.append(request.raw_path)
        body = await request.read()
        return web.json_response(
            {
                "replica": self.name,
                "method": request.method,
                "raw_path": request.raw_path,
                "headers": {k: v for k, v in request.headers.items()},
                "body_bytes": len(body),
            },
            headers={"X-Replica": self.name, "Set-Cookie": "a=1"},
        )

    async def _hold(self, request: web.Request) -> web.Response:
        """Answers only once the test sets `release`: a request whose duration it controls."""
        self.seen.append(request.raw_path)
        self.in_handler += 1
        try:
            await self.release.wait()
        finally:
            self.in_handler -= 1
        return web.Response(text=self.name)

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: one at once, the rest only after `release`."""
        self.seen.append(request.raw_path)
        count = int(request.query.get("n", "3"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: 0\n\n")
        await self.release.wait()
        for i in range(1, count):
            await response.write(f"data: {i}\n\n".encode())
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    async def _die_before(self, request: web.Request) -> web.StreamResponse:
        """The process dies before answering: the connection closes with no response."""
        self.seen.append(request.raw_path)
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(0.5)
        return web.Response(text="never")

    async def _die_during(self, request: web.Request) -> web.StreamResponse:
        """Dies mid-stream: headers and a first chunk, then the connection is cut."""
        self.seen.append(request.raw_path)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: 0\n\n")
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.close()
        return response

    async def _slow(self, request: web.Request) -> web.Response:
        """A slow replica: answers after `ms` milliseconds."""
        self.seen.append(request.raw_path)
        await asyncio.sleep(float(request.query.get("ms", "50")) / 1000.0)
        return web.Response(text=self.name, headers={"X-Replica": self.name})

    async def _gzip(self, request: web.Request) -> web.Response:
        """A compressed body: it must reach the client as sent, still compressed."""
        import gzip

        return web.Response(
            body=gzip.compress(b"z" * 1000),
            headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
        )

    async def _status(self, request: web.Request) -> web.Response:
        self.seen.append(request.raw_path)
        return web.Response(status=int(request.match_info["code"]), text="as asked")


def payload(text: str) -> dict[str, object]:
    return dict(json.loads(text))
