"""Out-of-order stream messages, one by one: the cases the random sequences cover, named."""

from __future__ import annotations

import grpc
import pytest

from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import node_pb2, types_pb2, workload_pb2
from tests.fuzz.harness import diff, snapshot
from tests.fuzz.test_streams import ATTACH, CONNECT, NODE, run_stream

HELLO = node_pb2.AgentMessage(hello=node_pb2.AgentHello(node=NODE))
TELEMETRY = node_pb2.AgentMessage(telemetry=node_pb2.TelemetryReport(time_unix=1.7e9))
APP_HELLO = workload_pb2.AppMessage(hello=workload_pb2.AttachHello(namespace="default", name="web"))
METRICS = workload_pb2.AppMessage(metrics=workload_pb2.MetricsReport(latency_ms=[5.0]))


def _ack(command_id: str, ok: bool = False) -> node_pb2.AgentMessage:
    return node_pb2.AgentMessage(
        ack=types_pb2.CommandAck(command_id=command_id, ok=ok, reason="x" * 10_000)
    )


def _process_event(kind: str, workload: str = "default/web") -> node_pb2.AgentMessage:
    return node_pb2.AgentMessage(
        process_event=node_pb2.ProcessEvent(workload=workload, kind=kind, pid=1)
    )


@pytest.mark.parametrize(
    ("sequence", "code", "field"),
    [
        ([TELEMETRY, HELLO], grpc.StatusCode.INVALID_ARGUMENT, "hello"),
        ([_ack("c1"), HELLO], grpc.StatusCode.INVALID_ARGUMENT, "hello"),
        ([node_pb2.AgentMessage()], grpc.StatusCode.INVALID_ARGUMENT, "hello"),
        ([], grpc.StatusCode.INVALID_ARGUMENT, "hello"),
        (
            [node_pb2.AgentMessage(hello=node_pb2.AgentHello(node="x" * 100_000))],
            grpc.StatusCode.INVALID_ARGUMENT,
            "hello.node",
        ),
        (
            [node_pb2.AgentMessage(hello=node_pb2.AgentHello(node="node-zz"))],
            grpc.StatusCode.FAILED_PRECONDITION,
            "",
        ),
        ([HELLO, _process_event("x" * 1000)], grpc.StatusCode.INVALID_ARGUMENT, "process_event"),
        ([HELLO, _process_event("started", "no-slash")], grpc.StatusCode.INVALID_ARGUMENT, ""),
        ([HELLO, HELLO, TELEMETRY], grpc.StatusCode.OK, ""),  # a second hello is ignored
        ([HELLO, _ack("never-sent"), _ack("")], grpc.StatusCode.OK, ""),
    ],
    ids=[
        "telemetry-before-hello",
        "ack-before-hello",
        "empty-message",
        "no-message",
        "huge-node-name",
        "unregistered-node",
        "unknown-process-event-kind",
        "process-event-bad-workload",
        "second-hello",
        "acks-for-unknown-commands",
    ],
)
async def test_agent_stream_order(
    seeded: Controller,
    sequence: list[node_pb2.AgentMessage],
    code: grpc.StatusCode,
    field: str,
) -> None:
    before = await snapshot(seeded)
    got, details = await run_stream(seeded.address, CONNECT, node_pb2.ControllerMessage, sequence)
    assert got == code, details
    assert details.startswith(field), details
    assert len(details) < 1024  # a huge input is never echoed back whole
    assert diff(before, await snapshot(seeded)) == []  # unknown acks record nothing either


@pytest.mark.parametrize(
    ("sequence", "code"),
    [
        ([METRICS, APP_HELLO], grpc.StatusCode.INVALID_ARGUMENT),
        (
            [workload_pb2.AppMessage(ack=workload_pb2.DirectiveAck(directive_id="d"))],
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        ([], grpc.StatusCode.INVALID_ARGUMENT),
        (
            [
                workload_pb2.AppMessage(
                    hello=workload_pb2.AttachHello(namespace="default", name="nope")
                )
            ],
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            [
                APP_HELLO,
                workload_pb2.AppMessage(metrics=workload_pb2.MetricsReport(latency_ms=[-1])),
            ],
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        ([APP_HELLO, APP_HELLO, METRICS], grpc.StatusCode.OK),
    ],
    ids=[
        "metrics-before-hello",
        "ack-before-hello",
        "no-message",
        "unknown-workload",
        "negative-latency",
        "second-hello",
    ],
)
async def test_app_stream_order(
    seeded: Controller, sequence: list[workload_pb2.AppMessage], code: grpc.StatusCode
) -> None:
    before = await snapshot(seeded)
    got, details = await run_stream(seeded.address, ATTACH, types_pb2.Directive, sequence)
    assert got == code, details
    assert diff(before, await snapshot(seeded)) == []
