"""Credentials from nowhere: random authorization metadata against a controller that
requires tokens. Every answer is a status that says why; nothing changes."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from controlplane.app.config import ControllerConfig
from controlplane.app.server import Controller
from tests.fuzz.conftest import fuzz_config
from tests.fuzz.harness import FUZZ, Method, all_methods, assert_alive, call_unary, diff, snapshot
from tests.fuzz.strategies import odd_text, requests

# NodeService answers to client certificates, not tokens (docs/security.md).
METHODS = [m for m in all_methods() if m.unary and "NodeService" not in m.path]
# The token format is aiwo_<id>_<secret> (sdk/_tokens.py): near-misses reach the lookup.
TOKENS = st.one_of(
    odd_text(200),
    st.builds(lambda a, b: f"aiwo_{a}_{b}", odd_text(20), odd_text(40)),
    st.sampled_from(("aiwo__", "aiwo_x_", "aiwo_" + "a" * 5000 + "_b", "Bearer", " ")),
)
# Metadata values must be printable ASCII on the wire (the client refuses others).
ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200)


@pytest.fixture
def controller_config(controller_config: ControllerConfig) -> ControllerConfig:
    return fuzz_config(controller_config, auth="token")


@settings(FUZZ, max_examples=120)
@given(
    method=st.sampled_from(METHODS),
    scheme=st.sampled_from(("Bearer ", "bearer ", "Basic ", "", "Bearer  ")),
    token=TOKENS.filter(lambda t: t.isascii() and t.isprintable()) | ASCII,
    data=st.data(),
)
async def test_random_credentials(
    controller: Controller,
    channel: grpc.aio.Channel,
    method: Method,
    scheme: str,
    token: str,
    data: st.DataObject,
) -> None:
    request = data.draw(requests(method.request), label="request")
    before = await snapshot(controller)
    code, details = await call_unary(
        channel, method, request, metadata=(("authorization", scheme + token),)
    )
    event(code.name)
    assert code == grpc.StatusCode.UNAUTHENTICATED, f"{method} let {token!r} in: {code}"
    assert token[:100] not in details or len(token) < 8, "the token came back in the error"
    assert diff(before, await snapshot(controller)) == []
    await assert_alive(controller, channel)
