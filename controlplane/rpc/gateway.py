"""GatewayService: endpoints down to aiwo-gateway, per-second traffic up.

WatchEndpoints is served by every controller from its watch-fed cache (readiness is in
the service records, written on change), so a gateway keeps its endpoints while the
leader changes. ReportTraffic is the leader's alone: traffic lives in its memory (never in
etcd) and feeds its autoscaler; a follower refuses it naming the leader, as NodeService
streams do, and the gateway goes there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import grpc
import structlog

from controlplane.leader.replica_step import endpoints_of
from controlplane.rpc.common import Leadership, abort_invalid
from controlplane.rpc.metrics import STREAM_MESSAGES
from controlplane.rpc.validation import ValidationError, check_traffic_report, clip
from controlplane.view.cluster import ClusterState
from sdk.pb.aiwo.v1 import gateway_pb2, gateway_pb2_grpc, serving_pb2

log = structlog.get_logger("aiwo.gateway_service")

WATCH_QUEUE = 1024  # changes a slow watcher may lag behind before it gets a fresh snapshot
LEADERSHIP_CHECK_S = 2.0


def service_endpoints(
    key: str, service: serving_pb2.Service | None
) -> gateway_pb2.ServiceEndpoints:
    namespace, _, name = key.partition("/")
    if service is None or service.deleting:
        return gateway_pb2.ServiceEndpoints(namespace=namespace, name=name, max_replicas=0)
    return gateway_pb2.ServiceEndpoints(
        namespace=namespace,
        name=name,
        endpoints=[gateway_pb2.Endpoint(replica=r, address=a) for r, a in endpoints_of(service)],
        max_replicas=service.spec.max_replicas,
    )


class EndpointsHub:
    """One subscription to the services cache, fanned out to every open watch."""

    def __init__(self, state: ClusterState) -> None:
        self.state = state
        self._watchers: set[asyncio.Queue[str | None]] = set()
        state.services.subscribe(self._on_change)

    def _on_change(self, key: str, _service: serving_pb2.Service | None) -> None:
        for queue in list(self._watchers):
            try:
                queue.put_nowait(key)
            except asyncio.QueueFull:  # too far behind: it starts over from a snapshot
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)

    def open(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(WATCH_QUEUE)
        self._watchers.add(queue)
        return queue

    def close(self, queue: asyncio.Queue[str | None]) -> None:
        self._watchers.discard(queue)

    def snapshot(self) -> dict[str, gateway_pb2.ServiceEndpoints]:
        return {
            key: service_endpoints(key, service)
            for key, service in sorted(self.state.services.items())
            if not service.deleting
        }

    @property
    def watchers(self) -> int:
        return len(self._watchers)


class GatewayService(gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(
        self,
        state: ClusterState,
        leadership: Leadership,
        hub: EndpointsHub,
        on_demand: Callable[[list[str]], None] = lambda _keys: None,
    ) -> None:
        self.state = state
        self.leadership = leadership
        self.hub = hub
        self.on_demand = on_demand  # requests held for a service with no ready replica

    async def WatchEndpoints(
        self, request: gateway_pb2.WatchEndpointsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.EndpointsUpdate]:
        if len(request.gateway) > 128:
            await abort_invalid(context, ValidationError("gateway", "at most 128 characters"))
        queue = self.hub.open()
        gateway = clip(request.gateway, 128)
        log.info("endpoints_watch_opened", gateway=gateway, watchers=self.hub.watchers)
        try:
            sent = self.hub.snapshot()
            yield gateway_pb2.EndpointsUpdate(snapshot=True, services=list(sent.values()))
            while True:
                key = await queue.get()
                if key is None:
                    sent = self.hub.snapshot()
                    yield gateway_pb2.EndpointsUpdate(snapshot=True, services=list(sent.values()))
                    continue
                current = service_endpoints(key, self.state.services.get(key))
                if current.max_replicas == 0:
                    if key not in sent:
                        continue  # never told: nothing to take back
                    del sent[key]
                elif sent.get(key) == current:
                    continue  # a change that does not move an endpoint (a pending replica)
                else:
                    sent[key] = current
                yield gateway_pb2.EndpointsUpdate(snapshot=False, services=[current])
        finally:
            self.hub.close(queue)
            log.info("endpoints_watch_closed", gateway=gateway)

    async def ReportTraffic(
        self,
        request_iterator: AsyncIterator[gateway_pb2.TrafficReport],
        context: grpc.aio.ServicerContext,
    ) -> gateway_pb2.ReportTrafficResponse:
        await self.leadership.require(context)
        async for report in request_iterator:
            STREAM_MESSAGES.labels(stream="gateway", kind="traffic").inc()
            try:
                check_traffic_report(report)
            except ValidationError as exc:
                await abort_invalid(context, exc)
            if not self.leadership.is_leader:
                await self.leadership.require(context)  # deposed: the gateway moves on
            known = {key for key, _ in self.state.services.items()}
            waiting = self.state.traffic.add(report, time.time(), known)
            if waiting:
                self.on_demand(waiting)
        return gateway_pb2.ReportTrafficResponse()
