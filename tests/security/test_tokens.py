"""Bearer tokens: missing, malformed, unknown, expired and revoked tokens are refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
import structlog

from controlplane.app.config import ControllerConfig
from controlplane.app.server import Controller
from sdk import _tokens
from sdk.pb.aiwo.v1 import admin_pb2, auth_pb2, types_pb2, workload_pb2
from tests.helpers import assert_eventually, started
from tests.security.conftest import Credentials, Stubs, bearer, tls_channel


async def _mint(stubs: Stubs, admin: str, role: str, *namespaces: str, ttl_s: float = 0) -> str:
    reply = await stubs.auth.CreateToken(
        auth_pb2.CreateTokenRequest(role=role, namespaces=list(namespaces), ttl_s=ttl_s),
        metadata=bearer(admin),
        timeout=5,
    )
    return reply.token


async def _list_nodes_code(stubs: Stubs, token: str | None) -> grpc.StatusCode:
    metadata = bearer(token) if token is not None else ()
    try:
        await stubs.admin.ListNodes(admin_pb2.ListNodesRequest(), metadata=metadata, timeout=5)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def _refusal(stubs: Stubs, token: str | None) -> str:
    metadata = bearer(token) if token is not None else ()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.admin.ListNodes(admin_pb2.ListNodesRequest(), metadata=metadata, timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    return caught.value.details() or ""


async def test_a_call_without_a_token_is_unauthenticated(secure_stubs: Stubs) -> None:
    assert "missing bearer token" in await _refusal(secure_stubs, None)


async def test_malformed_and_unknown_tokens_are_unauthenticated(secure_stubs: Stubs) -> None:
    assert "malformed" in await _refusal(secure_stubs, "hunter2")
    _, stranger = _tokens.mint()  # well formed, never stored
    assert "unknown token" in await _refusal(secure_stubs, stranger)


async def test_a_right_id_with_a_wrong_secret_is_unknown(
    secure_stubs: Stubs, credentials: Credentials
) -> None:
    token_id = _tokens.token_id_of(credentials.admin_token)
    _, other = _tokens.mint()
    forged = f"aiwo_{token_id}_{other.split('_', 2)[2]}"
    assert "unknown token" in await _refusal(secure_stubs, forged)


async def test_an_expired_token_is_refused(secure_stubs: Stubs, credentials: Credentials) -> None:
    token = await _mint(secure_stubs, credentials.admin_token, "viewer", ttl_s=1.0)
    assert await _list_nodes_code(secure_stubs, token) == grpc.StatusCode.OK
    await asyncio.sleep(1.1)
    assert "expired" in await _refusal(secure_stubs, token)


async def test_a_revoked_token_is_refused(secure_stubs: Stubs, credentials: Credentials) -> None:
    token = await _mint(secure_stubs, credentials.admin_token, "viewer")
    assert await _list_nodes_code(secure_stubs, token) == grpc.StatusCode.OK
    token_id = _tokens.token_id_of(token)
    info = await secure_stubs.auth.RevokeToken(
        auth_pb2.RevokeTokenRequest(id=token_id), metadata=bearer(credentials.admin_token)
    )
    assert info.revoked and info.revoked_unix > 0
    assert "revoked" in await _refusal(secure_stubs, token)
    listed = await secure_stubs.auth.ListTokens(
        auth_pb2.ListTokensRequest(), metadata=bearer(credentials.admin_token)
    )
    assert [t.revoked for t in listed.tokens if t.id == token_id] == [True]


async def test_a_revocation_reaches_every_replica(
    secure_follower: Controller, secure_stubs: Stubs, credentials: Credentials
) -> None:
    token = await _mint(secure_stubs, credentials.admin_token, "viewer")
    async with tls_channel(secure_follower.address, credentials) as channel:
        other = Stubs(channel)
        await assert_eventually(
            lambda: _list_nodes_code(other, token), message="follower accepts the token"
        )
        await secure_stubs.auth.RevokeToken(
            auth_pb2.RevokeTokenRequest(id=_tokens.token_id_of(token)),
            metadata=bearer(credentials.admin_token),
        )

        async def refused() -> bool:
            return await _list_nodes_code(other, token) == grpc.StatusCode.UNAUTHENTICATED

        await assert_eventually(refused, message="follower refuses the revoked token")


async def test_an_expired_file_token_is_refused(
    secure_config: ControllerConfig, credentials: Credentials, tmp_path: Path
) -> None:
    path = tmp_path / "tokens.json"
    fresh, fresh_record = _tokens.new_file_token("viewer")
    old, old_record = _tokens.new_file_token("viewer", ttl_s=60, now=time.time() - 120)
    _tokens.write_tokens_file(path, [fresh_record, old_record])
    async with started(Controller(replace(secure_config, tokens_file=str(path)))) as ctl:
        async with tls_channel(ctl.address, credentials) as channel:
            stubs = Stubs(channel)
            assert await _list_nodes_code(stubs, fresh) == grpc.StatusCode.OK
            assert "expired" in await _refusal(stubs, old)
            # Revoking in the file is seen without a restart.
            fresh_record.revoked = True
            _tokens.write_tokens_file(path, [fresh_record, old_record])
            await assert_eventually(
                _file_revocation_seen(stubs, fresh), timeout_s=5, message="file reloaded"
            )


def _file_revocation_seen(stubs: Stubs, token: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await _list_nodes_code(stubs, token) == grpc.StatusCode.UNAUTHENTICATED

    return check


async def test_etcd_holds_the_hash_never_the_token(
    secure_controller: Controller, secure_stubs: Stubs, credentials: Credentials
) -> None:
    token = await _mint(secure_stubs, credentials.admin_token, "workload", "team-a")
    prefix = f"{secure_controller.config.etcd_prefix}/tokens/"
    _, kvs = await secure_controller.store.list_prefix(prefix)
    assert kvs, "the token record is in etcd"
    secret = token.split("_", 2)[2].encode()
    for kv in kvs:
        assert token.encode() not in kv.value and secret not in kv.value


async def test_token_requests_are_validated(secure_stubs: Stubs, credentials: Credentials) -> None:
    for request, field in (
        (auth_pb2.CreateTokenRequest(role="root"), "role"),
        (auth_pb2.CreateTokenRequest(role="workload"), "namespaces"),
        (auth_pb2.CreateTokenRequest(role="viewer", namespaces=["Team A"]), "namespaces"),
        (auth_pb2.CreateTokenRequest(role="viewer", ttl_s=-1), "ttl_s"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await secure_stubs.auth.CreateToken(request, metadata=bearer(credentials.admin_token))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (caught.value.details() or "").startswith(field)


async def test_who_am_i(secure_stubs: Stubs, credentials: Credentials) -> None:
    token = await _mint(secure_stubs, credentials.admin_token, "workload", "team-a", "team-b")
    reply = await secure_stubs.auth.WhoAmI(auth_pb2.WhoAmIRequest(), metadata=bearer(token))
    assert reply.principal == f"token:{_tokens.token_id_of(token)}"
    assert reply.role == "workload"
    assert list(reply.namespaces) == ["team-a", "team-b"]
    assert "workloads.write" in reply.permissions and "nodes.cordon" not in reply.permissions


async def test_minting_and_revoking_are_audited_without_the_token(
    secure_stubs: Stubs, credentials: Credentials
) -> None:
    with structlog.testing.capture_logs() as logs:
        token = await _mint(secure_stubs, credentials.admin_token, "operator")
        await secure_stubs.auth.RevokeToken(
            auth_pb2.RevokeTokenRequest(id=_tokens.token_id_of(token)),
            metadata=bearer(credentials.admin_token),
        )
    audits = [e for e in logs if e["event"] == "audit"]
    admin_id = _tokens.token_id_of(credentials.admin_token)
    assert [(a["method"], a["result"], a["principal"]) for a in audits] == [
        ("CreateToken", "OK", f"token:{admin_id}"),
        ("RevokeToken", "OK", f"token:{admin_id}"),
    ]
    assert token not in repr(logs) and credentials.admin_token not in repr(logs)


async def test_a_follower_forwards_writes_over_tls_with_the_caller_s_token(
    secure_controller: Controller,
    secure_follower: Controller,
    secure_stubs: Stubs,
    credentials: Credentials,
) -> None:
    viewer = await _mint(secure_stubs, credentials.admin_token, "viewer")
    request = workload_pb2.RegisterWorkloadRequest(
        name="web", namespace="default", spec=types_pb2.WorkloadSpec()
    )
    async with tls_channel(secure_follower.address, credentials) as channel:
        other = Stubs(channel)
        # The leader checks the forwarded token: a viewer may not register.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await other.workload.Register(request, metadata=bearer(viewer), timeout=10)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        reply = await other.workload.Register(
            request, metadata=bearer(credentials.admin_token), timeout=10
        )
    assert reply.name == "web"
    assert secure_controller.state.workloads.get("default/web") is not None
