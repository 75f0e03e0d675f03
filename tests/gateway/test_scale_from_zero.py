"""Scale from zero and drain: held requests, 503 + Retry-After, the immediate demand report,
and a replica leaving the endpoints while it still serves a request."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.gateway.conftest import Rig, url
from tests.helpers import assert_eventually


async def test_held_request_is_sent_once_an_endpoint_appears(rig: Rig) -> None:
    # Known, min 0, nothing ready. Periodic reports every 60 s: only the immediate demand
    # report can arrive in time.
    gateway = await rig.cold("chat", max_replicas=3, report_interval_s=60.0, queue_timeout_s=60.0)

    async def get() -> tuple[int, str]:
        async with rig.http.get(url(gateway, "/s/default/chat/echo/held")) as response:
            return response.status, await response.text()

    held = asyncio.create_task(get())
    await assert_eventually(
        lambda: any(s.queued == 1 for _, s in rig.controller.service_reports("chat")),
        message="an immediate report of the held request",
    )
    report, traffic = next((r, s) for r, s in rig.controller.service_reports("chat") if s.queued)
    assert traffic.arrivals == 1 and report.interval_s < 60.0
    assert not held.done()
    replica = await rig.replica("chat-0")
    rig.controller.set("chat", {"chat-0": replica.address}, max_replicas=3)
    status, text = await asyncio.wait_for(held, 30)
    assert status == 200 and '"raw_path": "/echo/held"' in text
    assert replica.seen == ["/echo/held"]


async def test_held_past_the_timeout_is_503_with_retry_after(rig: Rig) -> None:
    gateway = await rig.cold("cold", max_replicas=2, queue_timeout_s=0.3)
    async with rig.http.get(url(gateway, "/s/default/cold/x")) as response:
        assert response.status == 503
        assert int(response.headers["Retry-After"]) >= 1
        assert "default/cold" in await response.text()
    await assert_eventually(lambda: rig.controller.total("cold", "rejected") == 1)
    assert rig.controller.total("cold", "arrivals") == 1


async def test_full_hold_queue_answers_503_at_once(rig: Rig) -> None:
    gateway = await rig.cold("cold", max_replicas=2, queue_size=2, queue_timeout_s=60.0)

    async def get() -> int:
        async with rig.http.get(url(gateway, "/s/default/cold/echo")) as response:
            return response.status

    held = [asyncio.create_task(get()) for _ in range(2)]
    await assert_eventually(lambda: gateway.holds.count(("default", "cold")) == 2)
    assert await asyncio.wait_for(get(), 30) == 503  # no third place
    replica = await rig.replica("cold-0")
    rig.controller.set("cold", {"cold-0": replica.address}, max_replicas=2)
    assert await asyncio.gather(*held) == [200, 200]


async def test_a_client_that_leaves_frees_its_place(rig: Rig) -> None:
    gateway = await rig.cold("cold", max_replicas=2, queue_size=1, queue_timeout_s=120.0)
    with pytest.raises(asyncio.TimeoutError):
        async with rig.http.get(
            url(gateway, "/s/default/cold/x"), timeout=aiohttp.ClientTimeout(total=0.5)
        ):
            pass
    await assert_eventually(lambda: gateway.holds.count(("default", "cold")) == 0)
    await assert_eventually(lambda: rig.controller.total("cold", "rejected") == 1)


async def test_service_deleted_while_held_is_404(rig: Rig) -> None:
    gateway = await rig.cold("gone", max_replicas=2, queue_timeout_s=60.0)

    async def get() -> tuple[int, str]:
        async with rig.http.get(url(gateway, "/s/default/gone/x")) as response:
            return response.status, await response.text()

    held = asyncio.create_task(get())
    await assert_eventually(lambda: gateway.holds.count(("default", "gone")) == 1)
    rig.controller.set("gone", {}, max_replicas=0)
    status, text = await asyncio.wait_for(held, 30)
    assert status == 404 and "default/gone" in text


async def test_scale_in_drains_without_a_failed_request(rig: Rig) -> None:
    leaving, staying = await rig.replica("r-0"), await rig.replica("r-1")
    rig.controller.set("svc", {"r-0": leaving.address})
    gateway = await rig.gateway()
    await assert_eventually(lambda: gateway.table.has_listed(("default", "svc")))

    async def get(path: str) -> tuple[int, str]:
        async with rig.http.get(url(gateway, f"/s/default/svc{path}")) as response:
            return response.status, response.headers.get("X-Replica") or await response.text()

    in_flight = asyncio.create_task(get("/hold"))
    await assert_eventually(lambda: leaving.in_handler == 1)
    # Scale-in: the controller takes r-0 out of the endpoints first.
    rig.controller.set("svc", {"r-1": staying.address})
    await assert_eventually(
        lambda: [r.name for r in gateway.table.replicas(("default", "svc")) if r.listed] == ["r-1"]
    )
    # The controller sees r-0 draining and still busy, so it does not stop it yet...
    await assert_eventually(
        lambda: any(
            r.replica == "r-0" and r.in_flight == 1 and r.draining
            for report, s in rig.controller.service_reports("svc")
            for r in s.replicas
        )
    )
    # ...and r-0 gets no new request.
    for _ in range(5):
        assert await get("/echo") == (200, "r-1")
    assert leaving.seen == ["/hold"]
    leaving.release.set()
    assert await asyncio.wait_for(in_flight, 30) == (200, "r-0")
    # The drain's end is reported: r-0 draining with nothing in flight, then forgotten.
    await assert_eventually(
        lambda: any(
            r.replica == "r-0" and r.in_flight == 0 and r.draining
            for report in rig.controller.reports
            for s in report.services
            for r in s.replicas
        )
    )
    await assert_eventually(
        lambda: [r.name for r in gateway.table.replicas(("default", "svc"))] == ["r-1"]
    )
    assert (
        rig.controller.total("svc", "errors") == 0 and rig.controller.total("svc", "completed") == 6
    )


async def test_scale_in_under_load_fails_no_request(rig: Rig) -> None:
    """The controller's protocol end to end: take the replica out of the endpoints, wait
    until the reports show it idle, then stop it; requests keep flowing all along."""
    gateway, [leaving, staying] = await rig.serve("svc", "r-0", "r-1", report_interval_s=0.1)

    async def get() -> int:
        async with rig.http.get(url(gateway, "/s/default/svc/slow?ms=80")) as response:
            await response.read()
            return response.status

    async def traffic(n: int) -> list[int]:
        tasks = []
        for _ in range(n):
            tasks.append(asyncio.create_task(get()))
            await asyncio.sleep(0.005)
        return await asyncio.gather(*tasks)

    load = asyncio.create_task(traffic(300))
    await assert_eventually(lambda: len(leaving.seen) >= 20)
    rig.controller.set("svc", {"r-1": staying.address})

    def idle() -> bool:  # what the controller waits for before SIGTERM
        return any(
            r.replica == "r-0" and r.in_flight == 0 and r.draining
            for report in rig.controller.reports
            for s in report.services
            for r in s.replicas
        )

    await assert_eventually(idle, timeout_s=30)
    served_before_stop = len(leaving.seen)
    await leaving.stop()  # SIGTERM, once idle
    statuses = await asyncio.wait_for(load, 60)
    assert statuses == [200] * 300
    assert len(leaving.seen) == served_before_stop
    assert rig.controller.total("svc", "errors") == 0
