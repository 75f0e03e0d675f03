"""What every fuzz test checks: a proper status, a live controller, nothing changed on refusal."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc
from google.protobuf import message_factory
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, Phase, settings

from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import admin_pb2, auth_pb2, gateway_pb2, node_pb2, serving_pb2, workload_pb2

# CI stability: the same examples every run, no example database, no per-example deadline
# (a loaded 2-core machine is slow now and then). The controller fixture is set up once
# per test and shared by its examples, on purpose.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    # No explain phase: it reruns a failure hundreds of times to annotate lines (minutes).
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Answers a request may get. UNKNOWN and INTERNAL mean an unhandled exception; UNAVAILABLE
# from a healthy leader on a healthy etcd means a write failed that validation should have
# refused; DEADLINE_EXCEEDED means the call hung.
ACCEPTABLE = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)
CALL_TIMEOUT_S = 10.0

PB_MODULES = (node_pb2, workload_pb2, admin_pb2, auth_pb2, serving_pb2, gateway_pb2)


@dataclass(frozen=True)
class Method:
    path: str  # "/aiwo.v1.WorkloadService/Register"
    request: type[Message]
    response: type[Message]
    client_streaming: bool
    server_streaming: bool

    @property
    def unary(self) -> bool:
        return not (self.client_streaming or self.server_streaming)

    def __str__(self) -> str:
        return self.path.removeprefix("/aiwo.v1.")


def all_methods() -> Iterator[Method]:
    """Every RPC aiwo serves, read from the descriptors: a new RPC is fuzzed without asking."""
    for module in PB_MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                yield Method(
                    f"/{service.full_name}/{m.name}",
                    message_factory.GetMessageClass(m.input_type),
                    message_factory.GetMessageClass(m.output_type),
                    m.client_streaming,
                    m.server_streaming,
                )


async def call_unary(
    channel: grpc.aio.Channel,
    method: Method,
    request: Message,
    metadata: tuple[tuple[str, str], ...] = (),
) -> tuple[grpc.StatusCode, str]:
    stub = channel.unary_unary(
        method.path,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=method.response.FromString,
    )
    try:
        await stub(request, timeout=CALL_TIMEOUT_S, metadata=metadata or None)
    except grpc.aio.AioRpcError as exc:
        code, details = exc.code(), exc.details() or ""
        check_status(code, details, method, request)
        return code, details
    return grpc.StatusCode.OK, ""


def check_status(code: grpc.StatusCode, details: str, method: object, request: object) -> None:
    assert code in ACCEPTABLE, f"{method} answered {code.name}: {details!r}\nrequest: {request}"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        # "field: problem" — the caller learns which field to fix.
        assert ": " in details, f"{method}: INVALID_ARGUMENT names no field: {details!r}"


async def snapshot(controller: Controller) -> dict[str, bytes]:
    """Everything under the controller's etcd prefix, events flushed first."""
    await controller.events.flush()
    _, kvs = await controller.store.list_prefix(controller.config.etcd_prefix + "/")
    return {kv.key: kv.value for kv in kvs}


def diff(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    changed = [k for k in before.keys() & after.keys() if before[k] != after[k]]
    return sorted(
        [f"+{k}" for k in after.keys() - before.keys()]
        + [f"-{k}" for k in before.keys() - after.keys()]
        + [f"~{k}" for k in changed]
    )


async def assert_alive(controller: Controller, channel: grpc.aio.Channel) -> None:
    """Still serving, still leading, its background tasks still running."""
    health = health_pb2_grpc.HealthStub(channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT_S)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert controller.store.epoch > 0, "the controller lost its leadership"
    for task in controller._tasks:
        assert not task.done(), f"controller task {task.get_name()} ended: {task}"
