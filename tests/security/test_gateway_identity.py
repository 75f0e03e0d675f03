"""aiwo-gateway's identity on a secured cluster: its certificate (URI aiwo://gateway/NAME)
opens GatewayService's streams under its own name and nothing else — no admin RPC, even
with an admin token beside it, and no node RPC; a gateway token does the same."""

from __future__ import annotations

import grpc
import pytest

from controlplane.app.server import Controller
from sdk import _pki
from sdk.pb.aiwo.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
    serving_pb2,
    serving_pb2_grpc,
)
from tests.controlplane.agentsim import node_info
from tests.security.conftest import Credentials, Stubs, bearer, tls_channel


def _ca(credentials: Credentials) -> _pki.Issued:
    pki = credentials.pki
    return _pki.Issued(pki.ca_cert.read_bytes(), pki.ca_key.read_bytes())


def _gateway_cert(credentials: Credentials, name: str = "gw-1") -> tuple[bytes, bytes]:
    issued = _pki.issue_gateway(_ca(credentials), name)
    return issued.cert_pem, issued.key_pem


async def _first_update(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...] = (), gateway: str = "gw-1"
) -> gateway_pb2.EndpointsUpdate:
    call = gateway_pb2_grpc.GatewayServiceStub(channel).WatchEndpoints(
        gateway_pb2.WatchEndpointsRequest(gateway=gateway), metadata=metadata, timeout=5
    )
    try:
        return await call.read()
    finally:
        call.cancel()


async def _refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    return refused.value


async def test_the_gateway_certificate_opens_only_the_gateway_streams(
    secure_controller: Controller, credentials: Credentials
) -> None:
    async with tls_channel(
        secure_controller.address, credentials, _gateway_cert(credentials)
    ) as channel:
        update = await _first_update(channel)  # no token: the certificate is enough
        assert update.snapshot
        me = await auth_pb2_grpc.AuthServiceStub(channel).WhoAmI(auth_pb2.WhoAmIRequest())
        assert (me.principal, me.role) == ("gateway:gw-1", "gateway")
        # Traffic under its own name is taken.
        report = gateway_pb2.TrafficReport(gateway="gw-1", time_unix=1.0, interval_s=1.0)
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        await stub.ReportTraffic(iter([report]), timeout=5)

        # An admin RPC: refused with the role named, with or without an admin token beside
        # the certificate (the certificate decides who the caller is).
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        for metadata in ((), bearer(credentials.admin_token)):
            error = await _refused(admin.ListNodes(admin_pb2.ListNodesRequest(), metadata=metadata))
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "missing permission nodes.read (role gateway)" in (error.details() or "")
        error = await _refused(
            auth_pb2_grpc.AuthServiceStub(channel).CreateToken(
                auth_pb2.CreateTokenRequest(role="admin"), metadata=bearer(credentials.admin_token)
            )
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "role gateway" in (error.details() or "")

    # The CLI's certificate without a token is no gateway.
    async with tls_channel(secure_controller.address, credentials) as channel:
        error = await _refused(_first_update(channel))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_gateway_certificate_is_no_node(
    secure_controller: Controller, credentials: Credentials
) -> None:
    # Even a gateway named like a node cannot register, connect or fetch credentials as it.
    cert = _gateway_cert(credentials, "node-a")
    async with tls_channel(secure_controller.address, credentials, cert) as channel:
        stub = node_pb2_grpc.NodeServiceStub(channel)
        error = await _refused(
            stub.Register(node_pb2.RegisterNodeRequest(node=node_info("node-a", 2)), timeout=5)
        )
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "missing node identity (role gateway)" in (error.details() or "")
        connect = stub.Connect(timeout=5)
        await connect.write(node_pb2.AgentMessage(hello=node_pb2.AgentHello(node="node-a")))
        error = await _refused(connect.read())
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "role gateway" in (error.details() or "")
    async with tls_channel(secure_controller.address, credentials) as channel:
        nodes = await admin_pb2_grpc.AdminServiceStub(channel).ListNodes(
            admin_pb2.ListNodesRequest(), metadata=bearer(credentials.admin_token)
        )
    assert [n.name for n in nodes.nodes] == []  # nothing was registered


async def test_a_gateway_certificate_speaks_only_under_its_own_name(
    secure_controller: Controller, credentials: Credentials
) -> None:
    async with tls_channel(
        secure_controller.address, credentials, _gateway_cert(credentials)
    ) as channel:
        error = await _refused(_first_update(channel, gateway="gw-2"))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "names gateway 'gw-1'; it may not act for 'gw-2'" in (error.details() or "")
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        reports = [
            gateway_pb2.TrafficReport(gateway="gw-1", time_unix=1.0, interval_s=1.0),
            gateway_pb2.TrafficReport(gateway="gw-2", time_unix=2.0, interval_s=1.0),
        ]
        error = await _refused(stub.ReportTraffic(iter(reports), timeout=5))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "may not act for 'gw-2'" in (error.details() or "")


async def test_a_certificate_naming_a_node_and_a_gateway_is_refused(
    secure_controller: Controller, credentials: Credentials
) -> None:
    both = _pki.issue(
        _ca(credentials),
        "both",
        uris=["aiwo://gateway/gw-1", "aiwo://node/node-a"],
        client=True,
    )
    async with tls_channel(
        secure_controller.address, credentials, (both.cert_pem, both.key_pem)
    ) as channel:
        error = await _refused(_first_update(channel))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "names both a node and a gateway" in (error.details() or "")
        stub = node_pb2_grpc.NodeServiceStub(channel)
        error = await _refused(
            stub.Register(node_pb2.RegisterNodeRequest(node=node_info("node-a", 2)), timeout=5)
        )
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED


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


async def test_the_gateway_certificate_matrix(
    secure_controller: Controller, credentials: Credentials
) -> None:
    """Every served method, called with a gateway certificate — and an admin token beside it
    to show that the certificate decides: GatewayService's two streams (and what any caller
    may: health, WhoAmI, reflection) are let in, everything else is PERMISSION_DENIED."""
    from controlplane.auth.permissions import AUTHENTICATED, GATEWAY_STREAMS, PUBLIC, RULES
    from tests.security.test_roles import OTHER, OWN, _call, _samples

    open_to_it = {PUBLIC, AUTHENTICATED, GATEWAY_STREAMS}
    mismatches = []
    async with tls_channel(
        secure_controller.address, credentials, _gateway_cert(credentials, "gw")
    ) as channel:
        for namespace in (OWN, OTHER):
            for sample in _samples(namespace):
                got = await _call(channel, sample, credentials.admin_token)
                refusals = (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
                if RULES[sample.method].permission in open_to_it:
                    wrong = got in refusals
                else:
                    wrong = got != grpc.StatusCode.PERMISSION_DENIED
                if wrong:
                    mismatches.append(f"{sample.method} ns={namespace}: got {got.name}")
    assert mismatches == []
