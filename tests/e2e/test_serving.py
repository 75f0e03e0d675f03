"""Services on real processes: etcd, the controller, agents, aiwo-gateway, and replicas of the
example LLM-like server, driven through the `aiwo` CLI and real HTTP requests.

- scale-in under load drains: no request fails;
- scale-out under load (the autoscaler core) and back;
- scale from zero: a request is held until the first replica is ready;
- a replica killed mid-request: 502, and the replica is replaced;
- the gateway restarted re-learns its endpoints from the controller;
- the leader failed over during a scale-out: no duplicate replicas, no orphans.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk import Service, SyncAdminClient
from sdk.cli.local_cluster import LocalCluster
from tests.e2e.cluster_helpers import cli, cli_json, wait_for
from tests.e2e.serving_helpers import (
    LLM_SERVER,
    Load,
    ready_count,
    replica_processes,
    request,
    service_url,
    serving_cluster,
    settled,
    stats,
    wait_settled,
)
from tests.fault.invariants import leaders


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with serving_cluster(tmp_path_factory.mktemp("serving") / "state") as running:
        yield running


@pytest.fixture
def admin(cluster: LocalCluster) -> Iterator[SyncAdminClient]:
    with SyncAdminClient.connect(cluster.controller_address) as client:
        yield client


def serve(cluster: LocalCluster, name: str, replicas: str, *extra: str) -> None:
    cli(cluster, "serve", name, "--replicas", replicas, "--milli-gpu", "250", *extra,
        "--", *LLM_SERVER)  # fmt: skip


def test_scale_in_under_load_drains_without_a_failed_request(
    cluster: LocalCluster, admin: SyncAdminClient
) -> None:
    serve(cluster, "drain", "1-4")
    cli(cluster, "scale", "drain", "--replicas", "3")
    wait_settled(admin, "drain", 3, 60, "3 replicas ready")
    with Load(service_url(cluster, "drain"), rate_per_s=8) as load:
        wait_for(lambda: load.sent >= 20, 30, "load under way")
        # The gateway's measurements reach `describe` and `top`.
        wait_for(lambda: admin.get_service("drain").demand.arrivals_per_s > 0, 20, "demand")
        assert "default/drain" in cli(cluster, "top", "--once").stdout
        cli(cluster, "scale", "drain", "--replicas", "1")
        service = wait_settled(admin, "drain", 1, 90, "scaled in to 1")
        sent_before = load.sent
        wait_for(lambda: load.sent >= sent_before + 10, 30, "load after the scale-in")
    assert load.failures == [], load.failures[:5]
    assert load.statuses[200] == load.sent
    # The drained replicas' processes are gone; the one left runs once.
    [kept] = service.replicas
    wait_for(lambda: replica_processes(cluster, "drain") == {f"default/{kept.workload}": 1}, 30,
             "only the kept replica runs")  # fmt: skip
    described = cli_json(cluster, "describe", "service", "drain")
    assert isinstance(described, dict)
    assert (described["replicas"], described["desired"], described["pinned"]) == (1, 1, 1)
    assert described["endpoints"] == [kept.endpoint]
    assert described["last_scale"]["from"] == 3 and described["last_scale"]["to"] == 1
    cli(cluster, "deregister", "drain")
    wait_for(lambda: not replica_processes(cluster, "drain"), 60, "every replica drained")


@pytest.mark.timeout(240)
def test_scale_out_under_load_then_in_without_a_failed_request(
    cluster: LocalCluster, admin: SyncAdminClient
) -> None:
    """4 requests at a time per replica, each about 1 s: 10 req/s needs about 3 replicas.
    (Back to 1 by the autoscaler alone takes its stabilization window: measured by
    tests/e2e/measure_serving_live.py, not here.)"""
    serve(cluster, "grow", "1-4", "--env", "LLM_MAX_CONCURRENCY=4")
    wait_settled(admin, "grow", 1, 60, "1 replica ready")
    body = {"prompt_tokens": 512, "max_tokens": 128}
    with Load(service_url(cluster, "grow"), rate_per_s=10, body=body) as load:
        wait_for(lambda: ready_count(admin, "grow") >= 3, 150, "scaled out to >= 3")
    assert load.failures == [], load.failures[:5]
    # In again under a load one replica carries: the drained ones fail nothing.
    with Load(service_url(cluster, "grow"), rate_per_s=2, body=body) as light:
        cli(cluster, "scale", "grow", "--replicas", "1")
        wait_settled(admin, "grow", 1, 60, "scaled in to 1")
    assert light.failures == [], light.failures[:5]
    cli(cluster, "deregister", "grow")


def test_scale_from_zero_holds_the_request_until_a_replica_is_ready(
    cluster: LocalCluster, admin: SyncAdminClient
) -> None:
    serve(cluster, "zero", "0-2", "--env", "LLM_LOAD_S=2")
    service = admin.get_service("zero")
    assert (service.desired, service.ready, service.replicas) == (0, 0, ())
    # Held by the gateway while the controller starts a replica, which loads for 2 s.
    status, body = request(service_url(cluster, "zero"), timeout_s=60)
    assert status == 200, body
    service = admin.get_service("zero")
    assert service.desired >= 1 and service.ready >= 1
    assert service.last_scale is not None and service.last_scale.from_replicas == 0
    cli(cluster, "deregister", "zero")


def test_a_replica_killed_mid_request_gives_502_and_is_replaced(
    cluster: LocalCluster, admin: SyncAdminClient
) -> None:
    serve(cluster, "crash", "1")
    [replica] = wait_settled(admin, "crash", 1, 60, "1 replica ready").replicas
    # A long answer (not streamed: its headers come at the end), killed while it runs.
    outcome: list[tuple[int, bytes]] = []
    long_body = {"prompt_tokens": 64, "max_tokens": 20_000}
    thread = threading.Thread(
        target=lambda: outcome.append(request(service_url(cluster, "crash"), long_body, 120))
    )
    thread.start()
    busy = wait_for(lambda: (s := stats(replica.endpoint))["running"] == 1 and s, 30, "busy")
    os.kill(int(busy["pid"]), signal.SIGKILL)
    thread.join(120)
    assert outcome and outcome[0][0] == 502, outcome

    # The agent restarts it (crash-loop backoff) and it is ready again.
    def replaced() -> Service | None:
        service = settled(admin, "crash", 1)
        return service if service is not None and service.replicas[0].restarts >= 1 else None

    service = wait_for(replaced, 60, "the replica replaced")
    assert service is not None
    assert stats(service.replicas[0].endpoint)["pid"] != busy["pid"]
    assert request(service_url(cluster, "crash"))[0] == 200
    cli(cluster, "deregister", "crash")


def test_a_command_that_exits_at_once_crash_loops_without_a_scale_loop(
    cluster: LocalCluster, admin: SyncAdminClient
) -> None:
    cli(cluster, "serve", "crashy", "--replicas", "1-3", "--milli-gpu", "250",
        "--", sys.executable, "-c", "import sys; sys.exit(1)")  # fmt: skip

    def crash_looping() -> dict[str, object] | None:
        described = cli_json(cluster, "describe", "service", "crashy")
        assert isinstance(described, dict)
        return described if described["crash_loop"] == 1 else None

    described = wait_for(crash_looping, 60, "the replica in crash-loop backoff")
    assert described is not None
    replicas = described["replica_list"]
    assert isinstance(replicas, list) and len(replicas) == 1
    replica = replicas[0]
    assert replica["state"] == "crash_loop" and "crash loop" in replica["message"]
    # Restarted by its agent with backoff: never a new replica, never another desired count.
    wait_for(lambda: admin.get_service("crashy").replicas[0].restarts >= 2, 60, "restarts")
    service = admin.get_service("crashy")
    assert (service.desired, len(service.replicas), service.ready) == (1, 1, 0)
    assert [e for e in admin.list_events("service/default/crashy", 50)
            if e.kind == "service_scaled"] == []  # fmt: skip
    cli(cluster, "deregister", "crashy")


def test_a_restarted_gateway_relearns_its_endpoints(
    cluster: LocalCluster, admin: SyncAdminClient
) -> None:
    serve(cluster, "relearn", "2")
    wait_settled(admin, "relearn", 2, 60, "2 replicas ready")
    assert request(service_url(cluster, "relearn"))[0] == 200
    cluster.kill("gateway")
    assert request(service_url(cluster, "relearn"), timeout_s=5)[0] == 0  # nobody listens
    cluster.respawn("gateway")
    # It keeps no state: the endpoints come from the controller's watch again.
    wait_for(lambda: request(service_url(cluster, "relearn"))[0] == 200, 30, "routed again")
    served = [request(service_url(cluster, "relearn"))[0] for _ in range(6)]
    assert served == [200] * 6
    cli(cluster, "deregister", "relearn")


def test_leader_failover_during_a_scale_out_leaves_no_duplicates_or_orphans(
    tmp_path: Path,
) -> None:
    with serving_cluster(tmp_path / "state", controllers=2) as ha:
        wait_for(lambda: len(leaders(ha)) == 1, 30, "one leader")
        serve(ha, "ha", "1-4")
        admin = SyncAdminClient.connect(ha.controller_address)
        try:
            wait_settled(admin, "ha", 1, 60, "1 replica ready")
            cli(ha, "scale", "ha", "--replicas", "4")
            [old] = leaders(ha)
            ha.kill(old)  # while the three new replicas are being created and started
            wait_for(lambda: leaders(ha) not in ([], [old]), 30, "a new leader")
            service = wait_settled(admin, "ha", 4, 90, "4 replicas ready")
        finally:
            admin.close()
        names = sorted(r.workload for r in service.replicas)
        assert len(set(names)) == 4 and len({r.index for r in service.replicas}) == 4
        assert len({r.endpoint for r in service.replicas}) == 4
        # Exactly one process per replica the record lists, and none it does not list.
        wait_for(
            lambda: replica_processes(ha, "ha") == {f"default/{n}": 1 for n in names},
            30, f"one process for each of {names}",
        )  # fmt: skip
