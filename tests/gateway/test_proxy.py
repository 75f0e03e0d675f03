"""The real gateway between a real aiohttp client and real aiohttp replicas, fed endpoints by
a real grpc.aio GatewayService: routing, streaming, balancing and the error answers."""

from __future__ import annotations

import asyncio
import gzip
import time

import aiohttp
import pytest

from tests.gateway.conftest import Rig, url
from tests.gateway.harness import payload
from tests.helpers import assert_eventually


async def test_routes_path_and_query_with_forwarded_headers(rig: Rig) -> None:
    gateway, _ = await rig.serve("chat", "chat-0")
    async with rig.http.post(
        url(gateway, "/s/default/chat/echo/a%2Fb/c?x=1&y=%20z"),
        data=b"hello",
        headers={"Connection": "keep-alive, X-Secret", "X-Secret": "hop", "X-App": "kept"},
        skip_auto_headers=("Accept-Encoding",),
    ) as response:
        assert response.status == 200
        body = payload(await response.text())
        assert response.headers["X-Replica"] == "chat-0"
        assert response.headers["Set-Cookie"] == "a=1"
    assert body["raw_path"] == "/echo/a%2Fb/c?x=1&y=%20z"  # bytes unchanged
    assert body["method"] == "POST" and body["body_bytes"] == 5
    sent = body["headers"]
    assert isinstance(sent, dict)
    headers = {k.lower(): v for k, v in sent.items()}
    assert headers["x-app"] == "kept"
    assert "x-secret" not in headers  # named by Connection: hop-by-hop
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert "accept-encoding" not in headers  # nothing the client did not send


async def test_service_root_and_bad_paths(rig: Rig) -> None:
    gateway, _ = await rig.serve("svc", "r")
    for path in ("/", "/s/", "/s/default", "/v1/completions"):
        async with rig.http.get(url(gateway, path)) as response:
            assert response.status == 404, path
            assert "/s/NAMESPACE/NAME/PATH" in await response.text()
    async with rig.http.get(url(gateway, "/s/default/nope/x")) as response:
        assert response.status == 404
        assert "default/nope" in await response.text()
    async with rig.http.get(url(gateway, "/s/other/svc/echo")) as response:
        assert response.status == 404 and "other/svc" in await response.text()


async def test_sse_chunks_arrive_before_the_response_ends(rig: Rig) -> None:
    gateway, [replica] = await rig.serve("llm", "llm-0")
    async with rig.http.get(url(gateway, "/s/default/llm/sse?n=4")) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        # The replica has written one event and now waits for `release`: the event must
        # already be here, so the gateway did not wait for the end of the response.
        first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 30)
        assert first == b"data: 0\n\n"
        assert not replica.release.is_set()
        replica.release.set()
        rest = await response.content.read()
    assert rest == b"data: 1\n\ndata: 2\n\ndata: 3\n\n"
    await assert_eventually(lambda: rig.controller.total("llm", "completed") == 1)
    gaps = [s.chunk_gap.count for _, s in rig.controller.service_reports("llm")]
    assert sum(gaps) >= 1  # the chunks after the first were timed


async def test_least_outstanding_requests(rig: Rig) -> None:
    gateway, [a, b] = await rig.serve("svc", "a", "b")

    async def get(path: str) -> str:
        async with rig.http.get(url(gateway, f"/s/default/svc{path}")) as response:
            assert response.status == 200
            return response.headers.get("X-Replica") or await response.text()

    first = asyncio.create_task(get("/hold"))
    await assert_eventually(lambda: a.in_handler + b.in_handler == 1)
    busy, idle = (a, b) if a.in_handler else (b, a)
    # One request outstanding on `busy`: every new short request goes to `idle`.
    for _ in range(5):
        assert await get("/echo") == idle.name
    second = asyncio.create_task(get("/hold"))
    await assert_eventually(lambda: idle.in_handler == 1)
    busy.release.set()
    assert await first == busy.name
    # `busy` is free again and `idle` holds one: the next goes to the former.
    assert await get("/echo") == busy.name
    idle.release.set()
    assert await second == idle.name


async def test_body_over_the_limit_is_413(rig: Rig) -> None:
    gateway, [replica] = await rig.serve("svc", "r", max_body_bytes=1000)
    async with rig.http.post(url(gateway, "/s/default/svc/echo"), data=b"x" * 1000) as response:
        assert response.status == 200
    async with rig.http.post(url(gateway, "/s/default/svc/echo"), data=b"x" * 1001) as response:
        assert response.status == 413

    async def chunked() -> object:  # no Content-Length: found while reading
        for _ in range(4):
            yield b"y" * 400

    async with rig.http.post(url(gateway, "/s/default/svc/echo"), data=chunked()) as response:
        assert response.status == 413
    assert replica.seen == ["/echo"]  # only the one under the limit reached the replica
    await assert_eventually(lambda: rig.controller.total("svc", "rejected") == 2)


async def test_replica_dying_before_answering_is_502_and_ejected(rig: Rig) -> None:
    gateway, [a, b] = await rig.serve("svc", "a", "b", eject_s=300.0)
    async with rig.http.get(url(gateway, "/s/default/svc/die-before")) as response:
        assert response.status == 502
    dead = a if a.seen else b
    alive = b if dead is a else a
    # Out of rotation: even with nothing outstanding anywhere, the rest go to the other one.
    for _ in range(4):
        async with rig.http.get(url(gateway, "/s/default/svc/echo")) as response:
            assert response.headers["X-Replica"] == alive.name
    await assert_eventually(lambda: rig.controller.total("svc", "errors") == 1)
    per_replica = [
        r for _, s in rig.controller.service_reports("svc") for r in s.replicas if r.errors
    ]
    assert [r.replica for r in per_replica] == [dead.name]


async def test_replica_dying_mid_stream_cuts_the_client_stream(rig: Rig) -> None:
    gateway, _ = await rig.serve("svc", "a", eject_s=300.0)
    async with rig.http.get(url(gateway, "/s/default/svc/die-during")) as response:
        assert response.status == 200  # the answer had begun
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    await assert_eventually(lambda: rig.controller.total("svc", "errors") == 1)
    # Its only replica is out of rotation for eject_s, though still listed.
    assert gateway.table.has_listed(("default", "svc"))
    assert gateway.table.pick(("default", "svc"), now_s=time.monotonic()) is None


async def test_refused_connection_goes_to_another_replica(rig: Rig) -> None:
    alive, gone = await rig.replica("alive"), await rig.replica("gone")
    await gone.stop()  # its port now refuses connections
    rig.controller.set("svc", {"alive": alive.address, "gone": gone.address})
    gateway = await rig.gateway()
    await assert_eventually(lambda: gateway.table.has_listed(("default", "svc")))
    for _ in range(6):
        async with rig.http.get(url(gateway, "/s/default/svc/echo")) as response:
            assert response.status == 200 and response.headers["X-Replica"] == "alive"
    await assert_eventually(lambda: rig.controller.total("svc", "completed") == 6)
    assert rig.controller.total("svc", "errors") == 0  # the request did not fail


async def test_replica_5xx_passes_through_and_counts_as_error(rig: Rig) -> None:
    gateway, _ = await rig.serve("svc", "a")
    async with rig.http.get(url(gateway, "/s/default/svc/status/503")) as response:
        assert response.status == 503 and await response.text() == "as asked"
    async with rig.http.get(url(gateway, "/s/default/svc/status/404")) as response:
        assert response.status == 404
    await assert_eventually(lambda: rig.controller.total("svc", "errors") == 1)
    await assert_eventually(lambda: rig.controller.total("svc", "completed") == 1)
    # A 5xx from the app is not a dead replica: it stays in rotation.
    assert gateway.table.pick(("default", "svc"), now_s=0.0) is not None


async def test_head_no_content_and_compressed_bodies_pass_unchanged(rig: Rig) -> None:
    gateway, _ = await rig.serve("svc", "a")
    async with rig.http.head(url(gateway, "/s/default/svc/echo")) as response:
        assert response.status == 200 and await response.read() == b""
    async with rig.http.get(url(gateway, "/s/default/svc/status/204")) as response:
        assert response.status == 204 and await response.read() == b""
    async with rig.http.get(url(gateway, "/s/default/svc/gzip"), auto_decompress=False) as response:
        raw = await response.read()
        assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw) == b"z" * 1000
    async with rig.http.get(url(gateway, "/s/default/svc/gzip")) as response:
        assert await response.read() == b"z" * 1000


async def test_a_client_leaving_mid_stream_leaks_nothing_and_ejects_no_one(rig: Rig) -> None:
    gateway, [replica] = await rig.serve("svc", "a")
    response = await rig.http.get(url(gateway, "/s/default/svc/sse?n=50"))
    assert await response.content.readuntil(b"\n\n") == b"data: 0\n\n"
    response.close()  # the client goes away mid-stream
    replica.release.set()
    [entry] = gateway.table.replicas(("default", "svc"))
    await assert_eventually(lambda: entry.in_flight == 0)
    assert entry.routable(time.monotonic())  # not the replica's fault
    await assert_eventually(lambda: rig.controller.total("svc", "completed") == 1)
    assert rig.controller.total("svc", "errors") == 0
