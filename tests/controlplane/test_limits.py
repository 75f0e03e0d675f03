"""Configurable limits: message size, workloads per namespace, requests per second per client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controlplane.app.config import ConfigError, load_config
from controlplane.app.main import main as controller_main
from controlplane.app.server import Controller
from controlplane.rpc.ratelimit import RETRY_AFTER_METADATA_KEY, RateLimiter, peer_address
from sdk.pb.aiwo.v1 import admin_pb2, auth_pb2, types_pb2, workload_pb2
from tests.controlplane.conftest import Stubs

MakeController = Callable[..., Awaitable[Controller]]


# ---------------------------------------------------------------- the token bucket, pure


def test_bucket_allows_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate_per_s=10, burst=3)
    assert [limiter.admit("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.admit("a", 0.0) == pytest.approx(0.1)  # one token takes 1/10 s
    assert limiter.admit("b", 0.0) == 0.0  # another client has its own bucket
    assert limiter.admit("a", 0.1) == 0.0  # refilled at 10/s
    assert limiter.admit("a", 0.1) > 0
    assert [limiter.admit("a", 10.0) for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # capped at burst


def test_bucket_table_is_bounded_and_zero_disables() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1, max_clients=2)
    for client in ("a", "b", "c"):
        limiter.admit(client, 0.0)
    assert limiter.admit("a", 0.0) == 0.0  # forgotten (least recently seen): starts full
    off = RateLimiter(rate_per_s=0, burst=1)
    assert all(off.admit("a", 0.0) == 0.0 for _ in range(1000))


def test_peer_address_drops_the_port() -> None:
    assert peer_address("ipv4:10.0.0.7:53211") == "ipv4:10.0.0.7"
    assert peer_address("ipv6:[::1]:5") == "ipv6:[::1]"
    assert peer_address("unix:/run/aiwo.sock") == "unix:/run/aiwo.sock"


# ---------------------------------------------------------------- configuration


def test_limits_are_settings_with_flags() -> None:
    config = load_config(
        environ={},
        overrides={
            "max_message_bytes": "65536",
            "max_workloads_per_namespace": "7",
            "rate_limit_rps": "2.5",
            "rate_limit_burst": "9",
        },
    )
    assert (config.max_message_bytes, config.max_workloads_per_namespace) == (65536, 7)
    assert (config.rate_limit_rps, config.rate_limit_burst) == (2.5, 9)
    flags = {option.name for option in controller_main.params}
    assert {
        "max_message_bytes",
        "max_workloads_per_namespace",
        "rate_limit_rps",
        "rate_limit_burst",
    } <= flags


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("max_message_bytes", "10"),
        ("max_workloads_per_namespace", "-1"),
        ("rate_limit_rps", "-1"),
        ("rate_limit_burst", "0"),
    ],
)
def test_bad_limits_name_the_setting(setting: str, value: str) -> None:
    with pytest.raises(ConfigError, match=setting):
        load_config(environ={}, overrides={setting: value})


# ---------------------------------------------------------------- on a real controller


def _spec() -> types_pb2.WorkloadSpec:
    return types_pb2.WorkloadSpec(resources=types_pb2.Resources(gpus=1))


async def _register(stubs: Stubs, name: str, namespace: str = "team-a") -> Any:
    request = workload_pb2.RegisterWorkloadRequest(name=name, namespace=namespace, spec=_spec())
    return await stubs.workload.Register(request)


async def test_workloads_per_namespace(make_controller: MakeController) -> None:
    ctl = await make_controller(max_workloads_per_namespace=2)
    async with grpc.aio.insecure_channel(ctl.address) as channel:
        stubs = Stubs(channel)
        await _register(stubs, "a")
        await _register(stubs, "b")
        await _register(stubs, "b")  # the same spec again is idempotent, not a third
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _register(stubs, "c")
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max_workloads_per_namespace" in (info.value.details() or "")
        assert "limit is 2" in (info.value.details() or "")
        await _register(stubs, "c", namespace="team-b")  # a namespace of its own
        _, stored = await ctl.store.list_prefix(ctl.keys.workloads)
        stored_keys = sorted(kv.key.removeprefix(ctl.keys.workloads) for kv in stored)
        assert stored_keys == ["team-a/a", "team-a/b", "team-b/c"]


async def test_max_message_bytes(make_controller: MakeController) -> None:
    ctl = await make_controller(max_message_bytes=64 * 1024)
    async with grpc.aio.insecure_channel(ctl.address) as channel:
        stubs = Stubs(channel)
        reason = "r" * (100 * 1024)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stubs.admin.Cordon(admin_pb2.CordonRequest(name="n", reason=reason))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # Under the limit the request reaches the handler (which finds no such node).
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stubs.admin.Cordon(admin_pb2.CordonRequest(name="n", reason="r" * 1000))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_rate_limit_per_client(make_controller: MakeController) -> None:
    ctl = await make_controller(rate_limit_rps=0.5, rate_limit_burst=3)
    async with grpc.aio.insecure_channel(ctl.address) as channel:
        stubs = Stubs(channel)
        for _ in range(3):
            await stubs.admin.ClusterInfo(admin_pb2.ClusterInfoRequest())
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stubs.admin.ClusterInfo(admin_pb2.ClusterInfoRequest())
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "0.5 requests/s per client" in (info.value.details() or "")
        assert "rate_limit_rps" in (info.value.details() or "")
        retry_ms = dict(info.value.trailing_metadata() or ())[RETRY_AFTER_METADATA_KEY]
        assert 1000 < int(retry_ms) <= 2001
        # Streams count at their start as well; health checks never count.
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(10):
            reply = await health.Check(health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        call = stubs.workload.Attach()
        assert await call.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_rate_limit_tells_tokens_apart(make_controller: MakeController) -> None:
    ctl = await make_controller(auth="token", rate_limit_rps=0.5, rate_limit_burst=2)
    first, _ = await ctl.auth.tokens.create("viewer", [], 0, "a", created_by="test")
    second, _ = await ctl.auth.tokens.create("viewer", [], 0, "b", created_by="test")
    async with grpc.aio.insecure_channel(ctl.address) as channel:
        stubs = Stubs(channel)

        async def info(token: str) -> grpc.StatusCode:
            try:
                await stubs.admin.ClusterInfo(
                    admin_pb2.ClusterInfoRequest(), metadata=(("authorization", f"Bearer {token}"),)
                )
            except grpc.aio.AioRpcError as exc:
                return exc.code()
            return grpc.StatusCode.OK

        assert [await info(first) for _ in range(3)][-1] == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert await info(second) == grpc.StatusCode.OK  # its own budget, same address
        # Made-up tokens share their address's bucket: no fresh budget per invented id.
        bogus = [await info(f"aiwo_{i:012x}_{'x' * 43}") for i in range(3)]
        assert bogus[:2] == [grpc.StatusCode.UNAUTHENTICATED] * 2
        assert bogus[2] == grpc.StatusCode.RESOURCE_EXHAUSTED
        reply = await auth_stub(channel).WhoAmI(
            auth_pb2.WhoAmIRequest(), metadata=(("authorization", f"Bearer {second}"),)
        )
        assert reply.role == "viewer"


def auth_stub(channel: grpc.aio.Channel) -> Any:
    from sdk.pb.aiwo.v1 import auth_pb2_grpc

    return auth_pb2_grpc.AuthServiceStub(channel)
