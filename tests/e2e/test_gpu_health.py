"""GPU health with real processes: a fault injected into a real agent's simulated GPU makes
the controller mark the GPU unhealthy, keep new work off it and move its workload away.

The fault goes in through the agent's state dir (nodeagent/gpu/sim_faults.py); etcd, the
controller, the agents and the counter are real processes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdk import Gpu, Resources, SyncAdminClient, SyncClient
from sdk.cli.local_cluster import LocalCluster
from tests.e2e.cluster_helpers import (
    assert_contiguous,
    cli,
    counts,
    keeps_counting,
    local_cluster,
    other,
    start_counter,
    wait_for,
)


def inject(cluster: LocalCluster, node: str, fault: dict[str, int] | list[dict[str, int]]) -> None:
    directory = cluster.state_dir / "agents" / node
    directory.mkdir(parents=True, exist_ok=True)  # the agent may not have written here yet
    temporary = directory / "sim-faults.json.tmp"
    temporary.write_text(json.dumps(fault))
    temporary.rename(directory / "sim-faults.json")  # whole, or not at all


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI's tables fit the terminal; wide enough that no cell wraps mid-phrase.
    monkeypatch.setenv("COLUMNS", "250")


def test_a_fatal_xid_marks_the_gpu_unhealthy_and_moves_its_workload(tmp_path: Path) -> None:
    log = tmp_path / "counts"
    with local_cluster(tmp_path / "state") as cluster:
        admin = SyncAdminClient.connect(cluster.controller_address)
        client = SyncClient.connect(cluster.controller_address)
        try:
            source = start_counter(client, "counter", log)
            [gpu] = client.get("counter").gpus
            inject(cluster, source, {"gpu": gpu, "xid": 79})

            node = wait_for(
                lambda: gpu in (n := admin.get_node(source)).unhealthy_gpus and n, 30, "unhealthy"
            )
            assert node.unhealthy_gpus[gpu].startswith("XID 79")  # type: ignore[union-attr]
            events = wait_for(
                lambda: [
                    e for e in admin.list_events(f"node/{source}") if e.kind == "gpu_unhealthy"
                ]
            )
            assert f"GPU {gpu} unhealthy: XID 79" in events[0].message

            # Moved off with its checkpoint: counting goes on elsewhere, nothing lost.
            target = other(source)
            wait_for(lambda: client.get("counter").node == target, 60, "counter not moved")
            keeps_counting(log, "not counting on the target", more=10)
            assert_contiguous(counts(log))
            migration = admin.get_migration("counter")
            assert migration.requested_by == "health" and "XID 79" in migration.reason

            # No new work on the unhealthy GPU: three more one-GPU workloads, three healthy
            # GPUs of which the counter holds one, so two are placed and neither lands there.
            for name in ("w1", "w2", "w3"):
                client.register(name, resources=Resources(gpus=1))
            placed = wait_for(
                lambda: (
                    len(p := [w for w in admin.list_workloads() if w.node and w.name != "counter"])
                    == 2
                    and p
                ),
                30,
                "placements",
            )
            for w in placed:  # type: ignore[union-attr]
                assert (w.node, tuple(w.gpus)) != (source, (gpu,)), w
            [bad] = [g for g in admin.list_gpus(source) if g.index == gpu]
            assert bad.unhealthy and bad.workloads == () and "XID 79" in bad.health_reason

            # Shown by the CLI.
            assert "Unhealthy: XID 79" in cli(cluster, "gpus", "--node", source).stdout
            described = cli(cluster, "describe", "node", source).stdout
            assert f"GPU {gpu} unhealthy: XID 79" in described
        finally:
            client.close()
            admin.close()


def test_a_thermal_throttle_is_shown_and_the_gpu_stays_healthy(tmp_path: Path) -> None:
    with local_cluster(tmp_path / "state", nodes=1) as cluster:
        admin = SyncAdminClient.connect(cluster.controller_address)
        try:
            inject(cluster, "node-1", {"gpu": 1, "throttle": 0x40})

            def throttled_gpu() -> Gpu | None:
                gpu = admin.list_gpus("node-1")[1]
                return gpu if gpu.throttles else None

            throttled = wait_for(throttled_gpu, 30, "throttle")
            assert throttled.throttles == ("hw_thermal",) and not throttled.unhealthy
            events = wait_for(
                lambda: [e for e in admin.list_events("node/node-1") if e.kind == "gpu_throttled"]
            )
            assert "GPU 1 throttled: hw_thermal" in events[0].message
            assert not admin.get_node("node-1").unhealthy_gpus
            assert "Throttled: hw_thermal" in cli(cluster, "gpus").stdout
        finally:
            admin.close()


def test_a_node_whose_gpus_all_fail_is_cordoned_and_uncordon_clears_the_marks(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path / "state", nodes=1) as cluster:
        admin = SyncAdminClient.connect(cluster.controller_address)
        try:
            inject(cluster, "node-1", [{"gpu": 0, "xid": 79}, {"gpu": 1, "xid": 48}])
            node = wait_for(lambda: (n := admin.get_node("node-1")).cordoned and n, 30, "cordon")
            assert set(node.unhealthy_gpus) == {0, 1}  # type: ignore[union-attr]
            assert "every GPU unhealthy (2 of 2)" in cli(cluster, "nodes").stdout

            # A bad index: one line naming the field, nothing changed.
            refused = cli(cluster, "uncordon", "node-1", "--gpu", "5", ok=False)
            assert refused.returncode == 1 and "Traceback" not in refused.stderr
            assert "clear_unhealthy_gpus: node node-1 has no GPU 5" in refused.stderr
            assert admin.get_node("node-1").cordoned

            # After the repair of GPU 1: back in service, the node uncordoned.
            out = cli(cluster, "uncordon", "node-1", "--gpu", "1").stdout
            assert "node node-1 uncordoned" in out and "GPU 1 back in service" in out
            node = admin.get_node("node-1")
            assert not node.cordoned and set(node.unhealthy_gpus) == {0}
            gpus = cli(cluster, "gpus", "--node", "node-1").stdout
            assert "Unhealthy: XID 79" in gpus and "XID 48" not in gpus
            out = cli(cluster, "uncordon", "node-1", "--clear-health").stdout
            assert "GPU 0 back in service" in out and not admin.get_node("node-1").unhealthy_gpus
            kinds = [e.kind for e in admin.list_events("node/node-1")]
            assert kinds.count("gpu_health_cleared") == 2 and "node_cordoned" in kinds
        finally:
            admin.close()
