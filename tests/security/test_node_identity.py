"""Mutual TLS for agents: a node's certificate lets it speak for that node and no other."""

from __future__ import annotations

import asyncio

import grpc
import pytest
import structlog

from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import node_pb2, node_pb2_grpc, types_pb2
from tests.controlplane.agentsim import node_info
from tests.helpers import assert_eventually
from tests.security.conftest import Credentials, tls_channel


async def _register(channel: grpc.aio.Channel, name: str) -> node_pb2.RegisterNodeResponse:
    stub = node_pb2_grpc.NodeServiceStub(channel)
    return await stub.Register(node_pb2.RegisterNodeRequest(node=node_info(name, 2)), timeout=5)


async def test_a_node_registers_and_reports_as_itself(
    secure_controller: Controller, credentials: Credentials
) -> None:
    cert = credentials.node_cert("node-a")
    async with tls_channel(secure_controller.address, credentials, cert) as channel:
        await _register(channel, "node-a")
        call = node_pb2_grpc.NodeServiceStub(channel).Connect()
        await call.write(node_pb2.AgentMessage(hello=node_pb2.AgentHello(node="node-a")))
        sample = node_pb2.TelemetryReport(
            time_unix=1.0,
            gpus=[types_pb2.GpuSample(index=i, power_w=100.0) for i in range(2)],
        )
        await call.write(node_pb2.AgentMessage(telemetry=sample))
        first = await asyncio.wait_for(call.read(), 5)
        assert first.WhichOneof("body") == "sync"
        await assert_eventually(
            lambda: secure_controller.state.telemetry.ensure("node-a", 2).latest(0) is not None
        )
        call.cancel()
    assert secure_controller.state.nodes.get("node-a") is not None


async def test_node_a_cannot_register_as_node_b(
    secure_controller: Controller, credentials: Credentials
) -> None:
    cert = credentials.node_cert("node-a")
    with structlog.testing.capture_logs() as logs:
        async with tls_channel(secure_controller.address, credentials, cert) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await _register(channel, "node-b")
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "'node-a'" in (caught.value.details() or "")
    assert "'node-b'" in (caught.value.details() or "")
    assert secure_controller.state.nodes.get("node-b") is None
    mismatch = [e for e in logs if e["event"] == "node_identity_mismatch"]
    assert mismatch and mismatch[0]["claimed_node"] == "node-b"
    assert mismatch[0]["certificate_node"] == "node-a"
    audits = [e for e in logs if e["event"] == "audit"]
    assert audits[-1]["result"] == "PERMISSION_DENIED"
    assert audits[-1]["principal"] == "node:node-a"
    assert audits[-1]["object"] == "node/node-b"


async def test_node_a_cannot_open_node_b_s_stream(
    secure_controller: Controller, credentials: Credentials
) -> None:
    # node-b is registered (by its own certificate) so only identity can stop node-a.
    async with tls_channel(
        secure_controller.address, credentials, credentials.node_cert("node-b")
    ) as channel:
        await _register(channel, "node-b")
    async with tls_channel(
        secure_controller.address, credentials, credentials.node_cert("node-a")
    ) as channel:
        with structlog.testing.capture_logs() as logs:
            call = node_pb2_grpc.NodeServiceStub(channel).Connect()
            await call.write(node_pb2.AgentMessage(hello=node_pb2.AgentHello(node="node-b")))
            # Telemetry and acks ride only the stream a hello opened, so ending the stream at
            # the hello refuses them all. (The test writes nothing more: a write racing the
            # refusal would turn the client's own status into INTERNAL.)
            code = await asyncio.wait_for(call.code(), 5)
            details = await call.details()
    assert code == grpc.StatusCode.PERMISSION_DENIED, details
    assert "agent_connected" not in [e["event"] for e in logs]
    assert secure_controller.sessions.agents.get("node-b") is None


async def test_a_certificate_without_a_node_name_cannot_register(
    secure_controller: Controller, credentials: Credentials
) -> None:
    # The CLI's certificate is valid for the CA but names a client, not a node.
    async with tls_channel(secure_controller.address, credentials) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _register(channel, "aiwo-cli")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "aiwo://node/" in (caught.value.details() or "")


async def test_a_node_gets_tokens_only_for_managed_work_placed_on_it(
    secure_controller: Controller, credentials: Credentials
) -> None:
    """WorkloadCredentials: the token a node hands a workload it starts. Another node's
    name, work placed elsewhere, and work no agent runs are all refused."""
    ask = node_pb2.WorkloadCredentialsRequest
    async with (
        tls_channel(secure_controller.address, credentials, credentials.node_cert("node-a")) as a,
        tls_channel(secure_controller.address, credentials, credentials.node_cert("node-b")) as b,
    ):
        await _register(a, "node-a")
        await _register(b, "node-b")
        state = secure_controller.state
        for name, launch in (("managed", True), ("app", False)):
            spec = types_pb2.WorkloadSpec(resources=types_pb2.Resources(gpus=1))
            if launch:
                spec.launch.command.append("/opt/train")
            state.workloads.apply_local(  # the records as the placement pass leaves them
                f"default/{name}", types_pb2.Workload(name=name, namespace="default", spec=spec)
            )
            state.placements.apply_local(
                f"default/{name}", types_pb2.PlacementRecord(node="node-a", gpus=[0])
            )
        stub_a, stub_b = node_pb2_grpc.NodeServiceStub(a), node_pb2_grpc.NodeServiceStub(b)
        first = await stub_a.WorkloadCredentials(ask(node="node-a", workload="default/managed"))
        again = await stub_a.WorkloadCredentials(ask(node="node-a", workload="default/managed"))
        assert first.token and again.token and first.token != again.token
        infos = {i.id: i for i in secure_controller.auth.tokens.infos()}
        mine = [i for i in infos.values() if (i.workload, i.node) == ("default/managed", "node-a")]
        assert sorted(i.revoked for i in mine) == [False, True]  # the first one is revoked
        assert all(list(i.namespaces) == ["default"] and i.role == "workload" for i in mine)

        async def refused(stub: node_pb2_grpc.NodeServiceStub, node: str, workload: str) -> str:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.WorkloadCredentials(ask(node=node, workload=workload))
            return f"{caught.value.code().name}: {caught.value.details()}"

        assert (await refused(stub_b, "node-a", "default/managed")).startswith("PERMISSION_DENIED")
        assert (await refused(stub_b, "node-b", "default/managed")) == (
            "FAILED_PRECONDITION: workload default/managed is not placed on node node-b"
        )
        assert (await refused(stub_a, "node-a", "default/app")) == (
            "FAILED_PRECONDITION: workload default/app is not one an agent runs"
        )
        assert (await refused(stub_a, "node-a", "nope")).startswith("INVALID_ARGUMENT")
