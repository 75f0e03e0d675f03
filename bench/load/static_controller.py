"""A GatewayService that lists fixed endpoints, for benchmarking the gateway alone.

It stands in for the controller's side only as far as the gateway sees it: one snapshot,
then silence; traffic reports are counted and kept (the last one) for the benchmark's report.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import grpc.aio

from sdk.pb.aiwo.v1 import gateway_pb2, gateway_pb2_grpc


class StaticEndpoints(gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(self, services: dict[tuple[str, str], dict[str, str]]) -> None:
        """services: (namespace, name) -> {replica: host:port}."""
        self.services = [
            gateway_pb2.ServiceEndpoints(
                namespace=namespace,
                name=name,
                endpoints=[
                    gateway_pb2.Endpoint(replica=r, address=a) for r, a in endpoints.items()
                ],
                max_replicas=max(1, len(endpoints)),
            )
            for (namespace, name), endpoints in services.items()
        ]
        self.reports = 0
        self.max_in_flight = 0
        self._server: grpc.aio.Server | None = None

    async def start(self) -> str:
        self._server = grpc.aio.server()
        gateway_pb2_grpc.add_GatewayServiceServicer_to_server(self, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        return f"127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=None)

    async def WatchEndpoints(
        self, request: gateway_pb2.WatchEndpointsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.EndpointsUpdate]:
        yield gateway_pb2.EndpointsUpdate(snapshot=True, services=self.services)
        await asyncio.Event().wait()  # the stream stays open, as the controller's does

    async def ReportTraffic(
        self,
        request_iterator: AsyncIterator[gateway_pb2.TrafficReport],
        context: grpc.aio.ServicerContext,
    ) -> gateway_pb2.ReportTrafficResponse:
        async for report in request_iterator:
            self.reports += 1
            for service in report.services:
                self.max_in_flight = max(self.max_in_flight, service.in_flight)
        return gateway_pb2.ReportTrafficResponse()
