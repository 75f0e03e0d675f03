"""What reaches the controller: per-interval aggregates that add up; a restarted gateway or
controller re-learns the endpoints from a fresh snapshot."""

from __future__ import annotations

import asyncio

from tests.gateway.conftest import Rig, url
from tests.helpers import assert_eventually


async def test_per_interval_aggregates_add_up(rig: Rig) -> None:
    gateway, _ = await rig.serve("svc", "a", "b", report_interval_s=0.2)

    async def get(path: str) -> int:
        async with rig.http.get(url(gateway, f"/s/default/svc{path}")) as response:
            await response.read()
            return response.status

    statuses = await asyncio.gather(*(get("/echo") for _ in range(40)), get("/status/500"))
    assert statuses.count(200) == 40
    await assert_eventually(lambda: rig.controller.total("svc", "completed") == 40)
    await assert_eventually(lambda: rig.controller.total("svc", "errors") == 1)
    reports = rig.controller.service_reports("svc")
    assert rig.controller.total("svc", "arrivals") == 41
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
    marks = len(rig.controller.reports)
    await assert_eventually(lambda: len(rig.controller.reports) > marks + 1)
    quiet = [s for r in rig.controller.reports[marks + 1 :] for s in r.services if s.name == "svc"]
    assert quiet and all(s.arrivals == 0 and s.in_flight == 0 for s in quiet)


async def test_restarted_gateway_relearns_its_endpoints(rig: Rig) -> None:
    replica = await rig.replica("r")
    rig.controller.set("svc", {"r": replica.address})
    first = await rig.gateway()
    await assert_eventually(lambda: first.table.has_listed(("default", "svc")))
    await first.stop()
    second = await rig.gateway()  # nothing carried over: all from the controller
    async with rig.http.get(url(second, "/s/default/svc/echo")) as response:
        # Sent before the snapshot may have arrived: held until then, never a 404.
        assert response.status == 200 and response.headers["X-Replica"] == "r"


async def test_gateway_reconnects_after_the_controller_restarts(rig: Rig) -> None:
    old, new = await rig.replica("old"), await rig.replica("new")
    rig.controller.set("svc", {"old": old.address})
    gateway = await rig.gateway()
    await assert_eventually(lambda: gateway.table.has_listed(("default", "svc")))
    port = rig.controller.port
    await rig.controller.stop()
    await assert_eventually(lambda: not gateway.link.watch_connected)
    # While the controller is away the gateway keeps routing to what it last knew.
    async with rig.http.get(url(gateway, "/s/default/svc/echo")) as response:
        assert response.headers["X-Replica"] == "old"
    # It comes back with other endpoints (changed while the gateway was not watching).
    rig.controller.services.clear()
    rig.controller.set("svc", {"new": new.address})
    await rig.controller.start(port)
    await assert_eventually(
        lambda: [r.name for r in gateway.table.replicas(("default", "svc"))] == ["new"],
        timeout_s=30,
    )
    async with rig.http.get(url(gateway, "/s/default/svc/echo")) as response:
        assert response.headers["X-Replica"] == "new"
    marks = len(rig.controller.reports)
    await assert_eventually(lambda: len(rig.controller.reports) > marks, timeout_s=30)
