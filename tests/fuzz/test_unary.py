"""Every unary RPC, random and boundary requests: a proper status, and no change on refusal."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from controlplane.server import Controller
from tests.fuzz.harness import FUZZ, Method, all_methods, assert_alive, call_unary, diff, snapshot
from tests.fuzz.strategies import requests

UNARY = [m for m in all_methods() if m.unary]


def test_every_service_is_fuzzed() -> None:
    services = {m.path.split("/")[1] for m in all_methods()}
    assert services == {
        "aiwo.v1.NodeService",
        "aiwo.v1.WorkloadService",
        "aiwo.v1.AdminService",
        "aiwo.v1.AuthService",
    }


@pytest.mark.parametrize("method", UNARY, ids=str)
@settings(FUZZ, max_examples=40)
@given(data=st.data())
async def test_unary_rpc(
    seeded: Controller, channel: grpc.aio.Channel, method: Method, data: st.DataObject
) -> None:
    request = data.draw(requests(method.request), label="request")
    before = await snapshot(seeded)
    code, details = await call_unary(channel, method, request)
    event(code.name)
    if code != grpc.StatusCode.OK:
        changed = diff(before, await snapshot(seeded))
        assert not changed, f"{method} refused ({code.name}: {details}) but changed {changed}"
    await assert_alive(seeded, channel)
