"""Oversized messages and huge repeated fields: refused with a status, nothing stored."""

from __future__ import annotations

import grpc
import pytest

from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import admin_pb2, node_pb2, types_pb2, workload_pb2
from tests.controlplane.agentsim import node_info
from tests.controlplane.conftest import Stubs
from tests.fuzz.harness import assert_alive, check_status, diff, snapshot
from tests.fuzz.test_streams import ATTACH, CONNECT, run_stream

MIB = 1024 * 1024


def _register(
    spec: types_pb2.WorkloadSpec, name: str = "big"
) -> workload_pb2.RegisterWorkloadRequest:
    return workload_pb2.RegisterWorkloadRequest(name=name, namespace="default", spec=spec)


def _node_with(**changes: object) -> node_pb2.RegisterNodeRequest:
    info = node_info("node-b", gpus=1)
    for name, value in changes.items():
        field = getattr(info, name)
        if isinstance(value, dict):
            field.update(value)
        else:
            field.extend(value)  # type: ignore[arg-type]
    return node_pb2.RegisterNodeRequest(node=info)


# Each is valid in shape and refused for its size alone.
HUGE_UNARY = {
    "message-over-the-limit": (
        "workload.Register",
        _register(types_pb2.WorkloadSpec(labels={"a": "x" * (5 * MIB)})),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    ),
    # Under the message limit and within every per-field limit, yet more than etcd takes in
    # one request (1.5 MiB by default): refused before the write, not by etcd.
    "spec-larger-than-etcd-takes": (
        "workload.Register",
        _register(
            types_pb2.WorkloadSpec(
                launch=types_pb2.LaunchSpec(
                    command=["x" * 4000] * 256,
                    env={f"K{i}": "v" * 4000 for i in range(256)},
                )
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "many-gpu-models": (
        "workload.Register",
        _register(
            types_pb2.WorkloadSpec(
                resources=types_pb2.Resources(gpus=1, gpu_models=["H100"] * 200_000)
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "many-variants": (
        "workload.Register",
        _register(
            types_pb2.WorkloadSpec(
                variants=[types_pb2.ModelVariant(name=f"v{i}") for i in range(50_000)]
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "many-labels": (
        "workload.Register",
        _register(types_pb2.WorkloadSpec(labels={f"k{i}": "v" for i in range(100_000)})),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "many-gpus-on-a-node": (
        "node.Register",
        node_pb2.RegisterNodeRequest(node=node_info("node-b", gpus=10_000)),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "many-capabilities": (
        "node.Register",
        _node_with(capabilities=["power-limit"] * 100_000),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "huge-node-labels": (
        "node.Register",
        _node_with(labels={f"k{i}": "v" * 100 for i in range(20_000)}),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "huge-cordon-reason": (
        "admin.Cordon",
        admin_pb2.CordonRequest(name="node-a", reason="r" * (3 * MIB)),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "huge-event-filter": (
        "admin.ListEvents",
        admin_pb2.ListEventsRequest(object="workload/" + "a" * MIB, limit=2**31 - 1),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "huge-name": (
        "workload.Get",
        workload_pb2.GetWorkloadRequest(name="a" * (3 * MIB), namespace="default"),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
}


@pytest.mark.parametrize("case", list(HUGE_UNARY), ids=str)
async def test_huge_unary_request(
    seeded: Controller, channel: grpc.aio.Channel, stubs: Stubs, case: str
) -> None:
    path, request, expected = HUGE_UNARY[case]
    service, method = path.split(".")
    before = await snapshot(seeded)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await getattr(getattr(stubs, service), method)(request, timeout=30)
    code, details = info.value.code(), info.value.details() or ""
    check_status(code, details, path, case)
    assert code == expected, details
    assert len(details) < 4096, "a huge input must not come back whole in the error"
    assert diff(before, await snapshot(seeded)) == []
    await assert_alive(seeded, channel)


HELLO = node_pb2.AgentMessage(hello=node_pb2.AgentHello(node="node-a"))
APP_HELLO = workload_pb2.AppMessage(hello=workload_pb2.AttachHello(namespace="default", name="web"))


@pytest.mark.parametrize(
    ("method", "response", "sequence"),
    [
        (
            CONNECT,
            node_pb2.ControllerMessage,
            [
                HELLO,
                node_pb2.AgentMessage(
                    telemetry=node_pb2.TelemetryReport(
                        time_unix=1.7e9, nets=[types_pb2.NetSample(interface="eth0")] * 50_000
                    )
                ),
            ],
        ),
        (
            CONNECT,
            node_pb2.ControllerMessage,
            [
                HELLO,
                node_pb2.AgentMessage(
                    telemetry=node_pb2.TelemetryReport(
                        time_unix=1.7e9,
                        gpus=[types_pb2.GpuSample(index=0, xid_events=[13] * 100_000)],
                    )
                ),
            ],
        ),
        (
            ATTACH,
            types_pb2.Directive,
            [
                APP_HELLO,
                workload_pb2.AppMessage(
                    metrics=workload_pb2.MetricsReport(latency_ms=[1.0] * 200_000)
                ),
            ],
        ),
        (
            ATTACH,
            types_pb2.Directive,
            [
                APP_HELLO,
                workload_pb2.AppMessage(
                    metrics=workload_pb2.MetricsReport(
                        latency_ms=[1.0] * (600_000)  # 4.8 MB: over the message limit
                    )
                ),
            ],
        ),
    ],
    ids=["many-nets", "many-xids", "many-latencies", "metrics-over-the-limit"],
)
async def test_huge_stream_message(
    seeded: Controller,
    channel: grpc.aio.Channel,
    method: str,
    response: type,
    sequence: list,  # type: ignore[type-arg]
) -> None:
    before = await snapshot(seeded)
    code, details = await run_stream(seeded.address, method, response, sequence)
    check_status(code, details, method, "huge")
    assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED), details
    assert diff(before, await snapshot(seeded)) == []
    await assert_alive(seeded, channel)
