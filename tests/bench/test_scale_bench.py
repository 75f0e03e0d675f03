"""aiwo-bench scale runs end to end: a small swarm on the real protocol against a real
controller and etcd (sizes tiny; figures checked for consistency, never for speed)."""

import json

import pytest
from click.testing import CliRunner

from bench.scale.cli import scale

pytestmark = pytest.mark.timeout(300)


def _run(*args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(scale, [*args, "-o", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_a_small_swarm_is_all_ready_and_its_figures_agree() -> None:
    report = _run("--nodes", "50", "--gpus-per-node", "4", "--seconds", "10",
                  "--workloads", "20")  # fmt: skip
    steady = report["steady"]
    assert steady["nodes_ready"] == 50
    assert steady["nodes_registered"] == 50
    assert steady["swarm"]["attached"] == 50
    # What the controller accepted is what the well-behaved nodes sent (up to the edges of
    # the window), and never more than the bad nodes could add on top.
    assert steady["reports_per_s"] > 0
    assert steady["reports_sent_per_s"] <= 1.5 * steady["reports_expected_per_s"]
    lag = steady["report_lag_s"]
    assert lag["samples"] > 0
    assert 0 <= lag["median"] <= lag["p99"] <= lag["max"]
    assert steady["controller_rss_mib"] > 0
    assert steady["swarm"]["cpu_s_per_s"] > 0
    assert steady["etcd_db_mib"] > 0
    # Heartbeats write nothing to etcd: a write per report would be at least reports_per_s.
    # What writes there are come from the runtime loop's power-cap commands (put, delete on
    # ack, events) on these few GPUs with random utilization.
    assert 0 <= steady["etcd_writes_per_s"] < steady["reports_per_s"] / 2
    assert report["workloads"]["count"] == 20
    placed = report["register_to_placed_ms"]
    assert placed["samples"] > 0 and placed["median"] <= placed["p99"]
    assert report["placement_ms"]["median"] <= report["placement_ms"]["p99"]
    assert report["placement_ms"]["placed_workloads"] == 20 + placed["samples"]


def test_failover_with_bad_nodes_brings_every_good_node_back_without_evictions() -> None:
    report = _run("--nodes", "30", "--gpus-per-node", "2", "--seconds", "5",
                  "--workloads", "10", "--failover", "--bad-nodes", "3")  # fmt: skip
    steady = report["steady"]
    assert steady["nodes_ready"] == 30
    # The bad nodes were refused: garbage ends its stream with INVALID_ARGUMENT.
    bad = steady["bad_nodes"]
    assert bad["count"] == 3
    assert report["swarm_final"]["invalid"] > 0
    failover = report["failover"]
    assert failover["failover_evicted"] == 0
    assert failover["nodes_not_ready"] == 0
    assert failover["failover_all_ready_s"] >= failover["elected_s"] > 0
