"""An in-process WorkloadService on a real grpc.aio server (port 0), scripted by tests.

It exercises the SDK's stream handling (hello, acks, reconnects, error mapping)
deterministically; the controller's own behaviour is tested against the real controller
in test_integration.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import grpc.aio

from sdk.pb.aiwo.v1 import types_pb2, workload_pb2, workload_pb2_grpc


@dataclass
class AttachLog:
    hellos: list[workload_pb2.AttachHello] = field(default_factory=list)
    metrics: list[workload_pb2.MetricsReport] = field(default_factory=list)
    acks: list[workload_pb2.DirectiveAck] = field(default_factory=list)
    first_messages: list[str] = field(default_factory=list)  # which oneof each stream began with


class FakeWorkloadService(workload_pb2_grpc.WorkloadServiceServicer):
    def __init__(self) -> None:
        self.workloads: dict[tuple[str, str], types_pb2.Workload] = {}
        self.log = AttachLog()
        self.updates: list[workload_pb2.UpdateWorkloadRequest] = []
        self.directives: asyncio.Queue[types_pb2.Directive] = asyncio.Queue()
        self.fail_next: tuple[grpc.StatusCode, str] | None = None
        self.attach_error: tuple[grpc.StatusCode, str] | None = None
        self.streams_opened = 0
        self.race_next_get = False  # someone else updates right after the next Get

    def _maybe_fail(self, context: grpc.aio.ServicerContext) -> tuple[grpc.StatusCode, str] | None:
        failure, self.fail_next = self.fail_next, None
        return failure

    async def Register(self, request, context):
        if failure := self._maybe_fail(context):
            await context.abort(*failure)
        key = (request.namespace, request.name)
        existing = self.workloads.get(key)
        if existing is not None and existing.spec != request.spec:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, f"workload {key} exists")
        workload = existing or types_pb2.Workload(
            name=request.name,
            namespace=request.namespace,
            spec=request.spec,
            phase=types_pb2.WORKLOAD_PHASE_PENDING,
            generation=1,
        )
        self.workloads[key] = workload
        return workload

    async def Update(self, request, context):
        self.updates.append(request)
        workload = self.workloads.get((request.namespace, request.name))
        if workload is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such workload")
        if request.expected_generation and request.expected_generation != workload.generation:
            await context.abort(grpc.StatusCode.ABORTED, "generation changed")
        workload.spec.CopyFrom(request.spec)
        workload.generation += 1
        return workload

    async def Deregister(self, request, context):
        if self.workloads.pop((request.namespace, request.name), None) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such workload")
        return workload_pb2.DeregisterWorkloadResponse()

    async def Get(self, request, context):
        workload = self.workloads.get((request.namespace, request.name))
        if workload is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"workload {request.namespace}/{request.name} not found"
            )
        reply = types_pb2.Workload()
        reply.CopyFrom(workload)
        if self.race_next_get:
            self.race_next_get = False
            workload.generation += 1
        return reply

    async def Attach(
        self, request_iterator: AsyncIterator[workload_pb2.AppMessage], context
    ) -> AsyncIterator[types_pb2.Directive]:
        self.streams_opened += 1
        if self.attach_error is not None:
            await context.abort(*self.attach_error)

        async def read() -> None:
            first = True
            async for message in request_iterator:
                kind = message.WhichOneof("body")
                if first:
                    self.log.first_messages.append(kind or "")
                    first = False
                if kind == "hello":
                    self.log.hellos.append(message.hello)
                elif kind == "metrics":
                    self.log.metrics.append(message.metrics)
                elif kind == "ack":
                    self.log.acks.append(message.ack)

        reader = asyncio.create_task(read())
        try:
            while True:
                getter = asyncio.ensure_future(self.directives.get())
                done, _ = await asyncio.wait({getter, reader}, return_when="FIRST_COMPLETED")
                if getter not in done:
                    getter.cancel()
                    return
                yield getter.result()
        finally:
            reader.cancel()

    def place(self, namespace: str, name: str, node: str = "node-1", gpus=(0,)) -> None:
        workload = self.workloads[(namespace, name)]
        workload.phase = types_pb2.WORKLOAD_PHASE_PLACED
        workload.node = node
        del workload.gpus[:]
        workload.gpus.extend(gpus)


class FakeController:
    """A grpc.aio server with the fake service, restartable on the same port."""

    def __init__(self, service: FakeWorkloadService | None = None) -> None:
        self.service = service or FakeWorkloadService()
        self.port = 0
        self.server: grpc.aio.Server | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        server = grpc.aio.server()
        workload_pb2_grpc.add_WorkloadServiceServicer_to_server(self.service, server)
        self.port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        await server.start()
        self.server = server

    async def stop(self, grace: float | None = None) -> None:
        if self.server is not None:
            await self.server.stop(grace)
            self.server = None
