"""What reaches the controller: per-interval aggregates that add up; a restarted gateway or
controller re-learns the endpoints from a fresh snapshot."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.gateway.conftest import GatewayFactory, ReplicaFactory, url
from tests.gateway.harness import FakeController
from tests.helpers import assert_eventually


async def test_per_interval_aggregates_add_up(
    controller: FakeController,
    make_replica: ReplicaFactory,
    make_gateway: GatewayFactory,
    http: aiohttp.ClientSession,
) -> None:
    a, b = await make_replica("a"), await make_replica("b")
    controller.set("svc", {"a": a.address, "b": b.address})
    gateway = await make_gateway(report_interval_s=0.2)
    await assert_eventually(lambda: gateway.table.has_listed(("default", "svc")))

    async def get(path: str) -> int:
        async with http.get(url(gateway, f"/s/default/svc{path}")) as response:
            await response.read()
            return response.status

    statuses = await asyncio.gather(*(get("/echo") for _ in range(40)), get("/status/500"))
    assert statuses.count(200) == 40
    await assert_eventually(lambda: controller.total("svc", "completed") == 40)
    await assert_eventually(lambda: controller.total("svc", "errors") == 1)
    reports = controller.service_reports("svc")
    assert controller.total("svc", "arrivals") == 41
    assert sum(s.latency.count for _, s in reports) == 40  # completed ones only
    assert sum(s.ttft.count for _, s in reports) == 41  # the 500 had a first byte too
    assert len(reports) < 41  # aggregated: never one message per request
    replica_done = sum(r.completed for _, s in reports for r in s.replicas)
    replica_errors = sum(r.errors for _, s in reports for r in s.replicas)
    assert replica_done == 40 and replica_errors == 1
    for report, s in reports:
        assert report.gateway == "gw-test" and report.interval_s > 0
        for summary in (s.ttft, s.latency):
            if summary.count:
                assert 0 < summary.p50_ms <= summary.p99_ms <= summary.max_ms
                assert summary.sum_ms <= summary.count * summary.max_ms + 1e-9
                assert summary.max_ms < 60_000
    # Quiet intervals still list the service, with zero arrivals: demand fell to nothing.
    marks = len(controller.reports)
    await assert_eventually(lambda: len(controller.reports) > marks + 1)
    quiet = [s for r in controller.reports[marks + 1 :] for s in r.services if s.name == "svc"]
    assert quiet and all(s.arrivals == 0 and s.in_flight == 0 for s in quiet)


async def test_restarted_gateway_relearns_its_endpoints(
    controller: FakeController,
    make_replica: ReplicaFactory,
    make_gateway: GatewayFactory,
    http: aiohttp.ClientSession,
) -> None:
    replica = await make_replica("r")
    controller.set("svc", {"r": replica.address})
    first = await make_gateway()
    await assert_eventually(lambda: first.table.has_listed(("default", "svc")))
    await first.stop()
    second = await make_gateway()  # nothing carried over: all from the controller
    async with http.get(url(second, "/s/default/svc/echo")) as response:
        # Sent before the snapshot may have arrived: held until then, never a 404.
        assert response.status == 200 and response.headers["X-Replica"] == "r"


async def test_gateway_reconnects_after_the_controller_restarts(
    controller: FakeController,
    make_replica: ReplicaFactory,
    make_gateway: GatewayFactory,
    http: aiohttp.ClientSession,
) -> None:
    old, new = await make_replica("old"), await make_replica("new")
    controller.set("svc", {"old": old.address})
    gateway = await make_gateway()
    await assert_eventually(lambda: gateway.table.has_listed(("default", "svc")))
    port = controller.port
    await controller.stop()
    await assert_eventually(lambda: not gateway.link.watch_connected)
    # While the controller is away the gateway keeps routing to what it last knew.
    async with http.get(url(gateway, "/s/default/svc/echo")) as response:
        assert response.headers["X-Replica"] == "old"
    # It comes back with other endpoints (changed while the gateway was not watching).
    controller.services.clear()
    controller.set("svc", {"new": new.address})
    await controller.start(port)
    await assert_eventually(
        lambda: [r.name for r in gateway.table.replicas(("default", "svc"))] == ["new"],
        timeout_s=30,
    )
    async with http.get(url(gateway, "/s/default/svc/echo")) as response:
        assert response.headers["X-Replica"] == "new"
    marks = len(controller.reports)
    await assert_eventually(lambda: len(controller.reports) > marks, timeout_s=30)
