"""Migration with real processes: a counter moves between two agents on this machine.

The agents keep separate state directories, so the checkpoint travels through the
controller over the agents' streams. The counter appends every count it produces to a log;
across a migration, a rollback or a drain, that log must read 1, 2, 3, ... with nothing lost
and nothing repeated.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from sdk import Migration, MigrationPhase, Resources, SyncAdminClient, SyncClient, WorkloadPhase
from tests.e2e.cluster_helpers import (
    assert_contiguous,
    cli,
    cli_json,
    clients,
    counts,
    keeps_counting,
    local_cluster,
    other,
    start_counter,
    wait_for,
)


def finished(admin: SyncAdminClient, name: str, timeout_s: float = 60) -> Migration:
    return wait_for(
        lambda: (m := admin.get_migration(name)).done and m, timeout_s, f"{name} migration"
    )


def checkpointing(admin: SyncAdminClient, client: SyncClient, log: Path) -> tuple[str, str]:
    """A counter migrating to the other node, caught while it checkpoints: its slow
    checkpoint (3 s after SIGTERM) leaves time to break something midway. (source, target)"""
    source = start_counter(client, "counter", log, "--checkpoint-delay-s", "3")
    target = other(source)
    admin.migrate("counter", target)
    wait_for(
        lambda: admin.get_migration("counter").phase == MigrationPhase.CHECKPOINTING,
        10, "not checkpointing",
    )  # fmt: skip
    return source, target


def test_a_counter_migrates_and_back_without_losing_or_repeating_a_count(tmp_path: Path) -> None:
    log = tmp_path / "counts"
    with local_cluster(tmp_path / "state") as cluster:
        with clients(cluster) as (admin, client):
            source = start_counter(client, "counter", log)
            target = other(source)
            started = time.monotonic()
            done = cli_json(cluster, "migrate", "counter", "--to", target)
            took_s = time.monotonic() - started
            assert isinstance(done, dict) and done["phase"] == "running", done
            assert done["checkpoint_bytes"] > 0 and len(done["checkpoint_sha256"]) == 64
            keeps_counting(log, "no counting on the target")
            workload = client.get("counter")
            assert workload.node == target and workload.phase == WorkloadPhase.RUNNING
            assert f"migrated from {source} to {target}" in workload.message

            # And back, through the SDK this time.
            admin.migrate("counter", source, reason="and back")
            back = finished(admin, "counter")
            assert back.phase == MigrationPhase.RUNNING, back.error
            wait_for(lambda: client.get("counter").node == source)
            keeps_counting(log, "no counting back on the source")
            assert_contiguous(counts(log))

            # Each node's stdout holds its share; together, the same unbroken sequence.
            first = admin.logs("counter", node=source, tail_bytes=1024 * 1024).text
            second = admin.logs("counter", node=target, tail_bytes=1024 * 1024).text
            assert next(int(x) for x in second.split()) > 1  # resumed, not restarted
            tail = cli(cluster, "logs", "counter", "--tail", "3").stdout.split()
            assert len(tail) == 3 and all(x.isdigit() for x in tail)
            stderr = cli(cluster, "logs", "counter", "--stderr", "--node", target).stdout
            assert "resumed after" in stderr and "checkpoint" in stderr
            assert first and second
            print(f"migration took {took_s:.2f}s (CLI round trip included)")


def test_drain_moves_every_workload_off_and_leaves_the_node_cordoned(tmp_path: Path) -> None:
    with local_cluster(tmp_path / "state") as cluster:
        with clients(cluster) as (admin, client):
            # Two managed counters and one workload that runs itself, all on node-1.
            admin.cordon("node-2")
            logs = {name: tmp_path / name for name in ("c1", "c2")}
            for name, log in logs.items():
                # c2 follows the SDK's CHECKPOINT directive; c1 checkpoints on SIGTERM only.
                extra = ("--attach",) if name == "c2" else ()
                assert start_counter(client, name, log, *extra) == "node-1"
            wait_for(lambda: "attached as" in admin.logs("c2", stderr=True).text, 20, "c2")
            client.register("web", resources=Resources(gpus=0)).wait_placed(20)
            admin.uncordon("node-2")

            result = cli(cluster, "drain", "node-1", "--reason", "maintenance")
            assert "node node-1 cordoned" in result.stdout
            for name in ("c1", "c2", "web"):
                assert f"default/{name} moved from node-1 to node-2" in result.stdout
            node = admin.get_node("node-1")
            assert node.cordoned and "draining node-1" in node.reason
            assert admin.get_node("node-1").workloads == 0
            for name, log in logs.items():
                assert client.get(name).node == "node-2"
                keeps_counting(log, name, more=10)
                assert_contiguous(counts(log))
            assert client.get("web").node == "node-2"
            steps = [step.detail for step in admin.get_migration("c2").history]
            assert "CHECKPOINT directive sent" in steps, steps
            assert "checkpoint" in admin.logs("c2", stderr=True, node="node-1").text
            time.sleep(1.0)  # the optimizer had its passes: the node stays empty and cordoned
            node = admin.get_node("node-1")
            assert node.cordoned and node.workloads == 0


def test_a_migration_whose_target_dies_rolls_back_to_the_source(tmp_path: Path) -> None:
    log = tmp_path / "counts"
    with local_cluster(tmp_path / "state") as cluster:
        with clients(cluster) as (admin, client):
            source, target = checkpointing(admin, client, log)
            cluster.kill(target, signal.SIGKILL)
            failed = finished(admin, "counter")
            assert failed.phase == MigrationPhase.FAILED
            error = failed.error
            assert target in error and f"restarted on {source}" in error, error
            workload = wait_for(lambda: (w := client.get("counter")).node == source and w)
            assert f"migration to {target} failed" in workload.message
            keeps_counting(log, "not counting on the source")
            assert_contiguous(counts(log))


def test_a_missing_checkpoint_fails_the_migration_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "counts"
    with local_cluster(tmp_path / "state") as cluster:
        with clients(cluster) as (_admin, client):
            source = start_counter(client, "counter", log, "--no-checkpoint")
            result = cli(cluster, "migrate", "counter", "--to", other(source), ok=False)
            assert result.returncode == 1
            assert "could not send a checkpoint: no checkpoint:" in result.stdout, result.stdout
            assert "is empty" in result.stdout
            workload = client.get("counter")
            # Not on the target at all; back on the source, and the message says what that
            # means (this workload wrote no checkpoint: it starts over there, knowingly).
            assert workload.node == source
            assert "no checkpoint" in workload.message and f"restarted on {source}" in (
                workload.message
            )
            assert not (
                cluster.state_dir / "agents" / other(source) / "checkpoints" / "default" / "counter"
            ).exists()


def test_a_damaged_checkpoint_never_starts_from_zero(tmp_path: Path) -> None:
    """The counter refuses a checkpoint that does not verify (exit 3): the target start fails
    within the settle time, the migration rolls back, and the source, with the same damaged
    checkpoint, refuses too. The workload ends FAILED, saying why; no count starts over."""
    log = tmp_path / "counts"
    with local_cluster(tmp_path / "state") as cluster:
        with clients(cluster) as (admin, client):
            source = start_counter(client, "counter", log, "--damage-checkpoint")
            target = other(source)
            admin.migrate("counter", target)
            failed = finished(admin, "counter")
            assert failed.phase == MigrationPhase.FAILED
            error = failed.error
            assert f"exited with code 3 on {target}" in error, error
            workload = wait_for(
                lambda: (w := client.get("counter")).phase == WorkloadPhase.FAILED and w,
                20, "workload not failed",
            )  # fmt: skip
            assert f"exited with code 3 on {source}" in workload.message, workload.message
            stderr = admin.logs("counter", node=target, stderr=True).text
            assert "corrupt checkpoint, not starting over from zero" in stderr
            assert_contiguous(counts(log))  # nothing started over at 1


def test_a_new_controller_resumes_a_migration_in_flight(tmp_path: Path) -> None:
    log = tmp_path / "counts"
    with local_cluster(tmp_path / "state") as cluster:
        with clients(cluster) as (admin, client):
            _, target = checkpointing(admin, client, log)
            cluster.kill("controller", signal.SIGKILL)
            cluster.respawn("controller")
            done = finished(admin, "counter", timeout_s=90)
            assert done.phase == MigrationPhase.RUNNING, done.error
            assert client.get("counter").node == target
            keeps_counting(log, "no counting on the target")
            assert_contiguous(counts(log))


def test_agents_sharing_a_checkpoint_directory_move_no_bytes(tmp_path: Path) -> None:
    shared = tmp_path / "shared-checkpoints"  # as if every node mounted one filesystem here
    args = ("--checkpoint-root", str(shared), "--shared-checkpoints")
    log = tmp_path / "counts"
    with local_cluster(tmp_path / "state", agent_args=args) as cluster:
        with clients(cluster) as (admin, client):
            source = start_counter(client, "counter", log)
            done = admin.migrate("counter", other(source))
            done = finished(admin, "counter")
            assert done.phase == MigrationPhase.RUNNING, done.error
            phases = [step.phase for step in done.history]
            assert MigrationPhase.TRANSFERRING not in phases
            assert done.checkpoint_path == str(shared / "default" / "counter")
            keeps_counting(log, "no counting on the target")
            assert_contiguous(counts(log))

            # A workload that leaves no checkpoint: the target refuses to start it from none.
            empty = tmp_path / "empty-counts"
            source = start_counter(client, "nock", empty, "--no-checkpoint")
            admin.migrate("nock", other(source))
            failed = finished(admin, "nock")
            assert failed.phase == MigrationPhase.FAILED
            assert "is empty" in failed.error, failed.error
            assert client.get("nock").node == source
