"""TLS on the controller's port: plaintext and certificate-less clients never get in."""

from __future__ import annotations

from dataclasses import replace

import grpc
import pytest
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controlplane.app.config import ControllerConfig
from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import admin_pb2, admin_pb2_grpc
from tests.security.conftest import Credentials, Stubs, bearer, tls_channel


async def test_a_plaintext_client_is_refused(
    secure_controller: Controller, credentials: Credentials
) -> None:
    async with grpc.aio.insecure_channel(secure_controller.address) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListNodes(
                admin_pb2.ListNodesRequest(), metadata=bearer(credentials.admin_token), timeout=5
            )
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_client_without_a_certificate_is_refused(
    secure_controller: Controller, credentials: Credentials
) -> None:
    creds = grpc.ssl_channel_credentials(credentials.pki.ca_cert.read_bytes())
    async with grpc.aio.secure_channel(secure_controller.address, creds) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await admin_pb2_grpc.AdminServiceStub(channel).ListNodes(
                admin_pb2.ListNodesRequest(), metadata=bearer(credentials.admin_token), timeout=5
            )
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_certificate_from_another_ca_is_refused(
    secure_controller: Controller, credentials: Credentials
) -> None:
    async with tls_channel(
        secure_controller.address, credentials, credentials.foreign_node
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await admin_pb2_grpc.AdminServiceStub(channel).ListNodes(
                admin_pb2.ListNodesRequest(), metadata=bearer(credentials.admin_token), timeout=5
            )
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_health_needs_tls_but_no_token(secure_stubs: Stubs) -> None:
    reply = await health_pb2_grpc.HealthStub(secure_stubs.channel).Check(
        health_pb2.HealthCheckRequest(), timeout=5
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_plaintext_serving_is_logged_as_a_warning(
    secure_config: ControllerConfig,
) -> None:
    plaintext = replace(secure_config, tls_cert="", tls_key="", tls_ca="", auth="none")
    with structlog.testing.capture_logs() as logs:
        ctl = Controller(plaintext)
        await ctl.start()
        await ctl.stop(0)
    events = {(e["event"], e["log_level"]) for e in logs}
    assert ("controller_plaintext", "warning") in events
    assert ("auth_disabled", "warning") in events


async def test_tls_serving_is_logged(secure_config: ControllerConfig) -> None:
    with structlog.testing.capture_logs() as logs:
        ctl = Controller(secure_config)
        await ctl.start()
        await ctl.stop(0)
    names = [e["event"] for e in logs]
    assert "controller_tls" in names
    assert "controller_plaintext" not in names and "auth_disabled" not in names
