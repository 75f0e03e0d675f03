"""aiwo-gateway's identity on a secured cluster: its certificate (URI aiwo://gateway/NAME)
opens GatewayService's streams and nothing else; a gateway token does the same."""

from __future__ import annotations

import grpc
import pytest

from controlplane.app.server import Controller
from sdk import _pki
from sdk.pb.aiwo.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    auth_pb2,
    gateway_pb2,
    gateway_pb2_grpc,
    serving_pb2,
    serving_pb2_grpc,
)
from tests.security.conftest import Credentials, Stubs, bearer, tls_channel


def _gateway_cert(credentials: Credentials) -> tuple[bytes, bytes]:
    pki = credentials.pki
    ca = _pki.Issued(pki.ca_cert.read_bytes(), pki.ca_key.read_bytes())
    issued = _pki.issue(ca, "aiwo-gateway", uris=["aiwo://gateway/gw-1"], client=True)
    return issued.cert_pem, issued.key_pem


async def _first_update(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...] = ()
) -> gateway_pb2.EndpointsUpdate:
    call = gateway_pb2_grpc.GatewayServiceStub(channel).WatchEndpoints(
        gateway_pb2.WatchEndpointsRequest(gateway="gw-1"), metadata=metadata, timeout=5
    )
    try:
        return await call.read()
    finally:
        call.cancel()


async def test_the_gateway_certificate_opens_only_the_gateway_streams(
    secure_controller: Controller, credentials: Credentials
) -> None:
    async with tls_channel(
        secure_controller.address, credentials, _gateway_cert(credentials)
    ) as channel:
        update = await _first_update(channel)  # no token: the certificate is enough
        assert update.snapshot
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await admin_pb2_grpc.AdminServiceStub(channel).ListNodes(admin_pb2.ListNodesRequest())
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # The CLI's certificate without a token is no gateway.
    async with tls_channel(secure_controller.address, credentials) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _first_update(channel)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_gateway_token_opens_only_the_gateway_streams(
    secure_stubs: Stubs, credentials: Credentials
) -> None:
    reply = await secure_stubs.auth.CreateToken(
        auth_pb2.CreateTokenRequest(role="gateway"), metadata=bearer(credentials.admin_token)
    )
    token = bearer(reply.token)
    assert (await _first_update(secure_stubs.channel, token)).snapshot
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await serving_pb2_grpc.ServingServiceStub(secure_stubs.channel).ListServices(
            serving_pb2.ListServicesRequest(), metadata=token
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "gateway" in (refused.value.details() or "")
