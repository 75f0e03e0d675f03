"""Every unary RPC, random and boundary requests: a proper status, and no change on refusal."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from controlplane.app.server import Controller
from tests.fuzz.harness import (
    CALL_TIMEOUT_S,
    FUZZ,
    Method,
    all_methods,
    assert_alive,
    call_unary,
    check_status,
    diff,
    snapshot,
)
from tests.fuzz.strategies import requests

UNARY = [m for m in all_methods() if m.unary]
SERVER_STREAMING = [m for m in all_methods() if m.server_streaming and not m.client_streaming]
STREAM_READ_S = 0.5  # a following stream (logs -f) may stay open: read this long, then cancel


def test_every_service_is_fuzzed() -> None:
    services = {m.path.split("/")[1] for m in all_methods()}
    assert services == {
        "aiwo.v1.NodeService",
        "aiwo.v1.WorkloadService",
        "aiwo.v1.AdminService",
        "aiwo.v1.AuthService",
        "aiwo.v1.ServingService",
        "aiwo.v1.GatewayService",
    }


@pytest.mark.parametrize("method", UNARY, ids=str)
@settings(FUZZ, max_examples=60)
@given(data=st.data())
async def test_unary_rpc(
    seeded: Controller, channel: grpc.aio.Channel, method: Method, data: st.DataObject
) -> None:
    request = data.draw(requests(method.request), label="request")
    before = await snapshot(seeded)
    code, details = await call_unary(channel, method, request)
    event(code.name)
    await _unchanged_if_refused(seeded, before, method, code, details)
    await assert_alive(seeded, channel)


@pytest.mark.skipif(not SERVER_STREAMING, reason="no server-streaming RPC")
@pytest.mark.parametrize("method", SERVER_STREAMING, ids=str)
@settings(FUZZ, max_examples=25)
@given(data=st.data())
async def test_server_streaming_rpc(
    seeded: Controller, channel: grpc.aio.Channel, method: Method, data: st.DataObject
) -> None:
    request = data.draw(requests(method.request), label="request")
    before = await snapshot(seeded)
    call = channel.unary_stream(
        method.path,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=method.response.FromString,
    )(request, timeout=CALL_TIMEOUT_S)

    async def drain() -> None:
        async for _ in call:
            pass

    still_open = False
    try:
        await asyncio.wait_for(drain(), STREAM_READ_S)
    except TimeoutError:
        still_open = True  # a watch stays open; our timeout cancels the call (CANCELLED)
    except grpc.aio.AioRpcError:
        pass
    if still_open or not call.done():
        call.cancel()
        event("still open")
    else:
        code, details = await call.code(), await call.details()
        check_status(code, details or "", method, request)
        event(code.name)
        await _unchanged_if_refused(seeded, before, method, code, details)
    await assert_alive(seeded, channel)


async def _unchanged_if_refused(
    seeded: Controller,
    before: dict[str, bytes],
    method: Method,
    code: grpc.StatusCode,
    details: str | None,
) -> None:
    """A refused call wrote nothing: the store is as it was before the call."""
    if code != grpc.StatusCode.OK:
        changed = diff(before, await snapshot(seeded))
        assert not changed, f"{method} refused ({code.name}: {details}) but changed {changed}"
