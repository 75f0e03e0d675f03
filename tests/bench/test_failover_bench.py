"""aiwo-bench failover on a small cluster of real processes: one run of each measurement."""

from __future__ import annotations

from click.testing import CliRunner

from bench.failover import Settings, run
from bench.main import main


def test_failover_and_detection_are_measured() -> None:
    result = run(
        Settings(
            runs=1,
            detect_runs=1,
            controllers=2,
            etcd_members=1,
            leader_lease_s=2,
            node_grace_s=2.0,
        )
    )
    failover, detection = result["failover"], result["detection"]
    [kill] = failover["runs"]  # type: ignore[index]
    # The survivor waits out the dead leader's lease (2 s), then campaigns.
    assert 0.5 < kill["elected_s"] <= kill["serving_s"] < 2 + 5
    [pause] = detection["runs"]  # type: ignore[index]
    # Silence starts at the last heartbeat, up to one telemetry interval (1 s) before the pause.
    assert 2 - 1.5 < pause["detected_s"] < 2 + 5
    assert failover["serving_s"]["median"] == kill["serving_s"]  # type: ignore[index]
    assert result["machine"]["cpus"]  # type: ignore[index]


def test_registered_as_an_aiwo_bench_command() -> None:
    reply = CliRunner().invoke(main, ["failover", "--help"])
    assert reply.exit_code == 0 and "--detect-runs" in reply.output
