"""One cluster per state directory: a second `aiwo up` refuses and touches nothing; a
killed cluster's leftovers are cleaned by the next `aiwo up`. Real processes throughout."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.cluster_helpers import wait_for
from tests.e2e.test_up import _alive

BIN = Path(sys.executable).parent


def _env(state: Path) -> dict[str, str]:
    env = {**os.environ, "AIWO_STATE_DIR": str(state)}
    env.pop("AIWO_CONTROLLER", None)
    return env


def aiwo(state: Path, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "aiwo"), *args],
        env=_env(state),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
    )


def start_up(state: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "aiwo"), "up", "--state-dir", str(state), "--nodes", "1",
         "--gpus-per-node", "2", *args],
        env=_env(state), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def cluster_file(state: Path, up: subprocess.Popen[str]) -> dict:
    def ready() -> dict | None:
        assert up.poll() is None, up.stdout.read() if up.stdout else ""
        try:
            data = json.loads((state / "cluster.json").read_text())
        except (OSError, ValueError):
            return None
        return data if data.get("pid") == up.pid else None

    return wait_for(ready, 60, "cluster.json was not written")


def node_ready(state: Path, count: int = 1) -> bool:
    out = aiwo(state, "nodes", "-o", "json")
    if out.returncode != 0:
        return False
    return sum(n["state"] == "ready" for n in json.loads(out.stdout)) >= count


@contextmanager
def running(up: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    try:
        yield up
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(30)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()


def sleeper(pid_file: Path) -> list[str]:
    """A managed workload that records its pid and waits."""
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    return [sys.executable, "-c", code]


def test_second_up_refuses_at_once_and_the_first_clusters_work_survives(tmp_path: Path) -> None:
    state = tmp_path / "state"
    pid_file = tmp_path / "sleeper.pid"
    with running(start_up(state)) as first:
        cluster = cluster_file(state, first)
        wait_for(lambda: node_ready(state), 30, "node-1 not ready")
        run = aiwo(state, "run", "sleeper", "--gpus", "1", "--", *sleeper(pid_file))
        assert run.returncode == 0, run.stderr
        wait_for(lambda: pid_file.exists() and pid_file.read_text(), 30, "sleeper not started")
        sleeper_pid = int(pid_file.read_text())

        second = subprocess.run(
            [str(BIN / "aiwo"), "up", "--state-dir", str(state), "--nodes", "1"],
            env=_env(state), capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert second.returncode == 1
        assert second.stdout == ""
        assert second.stderr == (
            f"aiwo up: a cluster is already running in {state.resolve()} (pid {first.pid}); "
            "stop it or use --state-dir\n"
        )
        # Nothing was touched: the workload, every process, cluster.json.
        assert _alive(sleeper_pid)
        assert all(_alive(p["pid"]) for p in cluster["processes"])
        assert json.loads((state / "cluster.json").read_text())["pid"] == first.pid
        assert node_ready(state)
        [workload] = json.loads(aiwo(state, "workloads", "-o", "json").stdout)
        assert workload["name"] == "sleeper" and workload["phase"] == "running"

        # A cluster whose `aiwo up` is killed leaves its processes behind, lock released.
        first.kill()
        first.wait()
        assert _alive(sleeper_pid)

    with running(start_up(state)) as third:
        cluster_file(state, third)
        # The stale etcd, controller, agent and workload were reaped before the new start.
        wait_for(lambda: not _alive(sleeper_pid), 10, "the stale workload survived")
        assert not [p["pid"] for p in cluster["processes"] if _alive(p["pid"])]
        wait_for(lambda: node_ready(state), 30, "node-1 not ready after the restart")
    assert third.returncode == 0


def workload(state: Path, name: str) -> dict:
    out = aiwo(state, "workloads", "-o", "json")
    assert out.returncode == 0, out.stderr
    return next(w for w in json.loads(out.stdout) if w["name"] == name)


def test_the_readme_run_example_works_and_logs_say_why_a_workload_failed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with running(start_up(state, "--nodes", "2")) as up:
        cluster_file(state, up)
        wait_for(lambda: node_ready(state, 2), 30, "nodes not ready")
        # As the README writes it: a bare `python`, which on this machine (and a user's)
        # may be a system interpreter without aiwo's dependencies.
        run = aiwo(state, "run", "counter", "--gpus", "1", "--", "python", "-m",
                   "sdk.examples.counter")  # fmt: skip
        assert run.returncode == 0, run.stderr
        wait_for(lambda: workload(state, "counter")["phase"] == "running", 30, "not running")
        wait_for(lambda: aiwo(state, "logs", "counter").stdout.strip(), 30, "prints nothing")
        assert workload(state, "counter")["phase"] == "running"  # it did not fail meanwhile

        # A process that fails at once prints nothing on stdout: logs shows its stderr.
        bad = aiwo(state, "run", "broken", "--gpus", "1", "--", "python", "-c",
                   "import no_such_module_here")  # fmt: skip
        assert bad.returncode == 0, bad.stderr
        wait_for(lambda: workload(state, "broken")["phase"] == "failed", 30, "did not fail")
        logs = aiwo(state, "logs", "broken")
        assert logs.returncode == 0 and logs.stdout == ""
        assert "no standard output" in logs.stderr
        assert "ModuleNotFoundError: No module named 'no_such_module_here'" in logs.stderr

        # A command that cannot be started leaves no output at all: logs says what happened.
        aiwo(state, "run", "nocmd", "--gpus", "1", "--", "/nonexistent/cmd")
        wait_for(lambda: workload(state, "nocmd")["phase"] == "failed", 30, "did not fail")
        logs = aiwo(state, "logs", "nocmd")
        assert logs.returncode == 0 and logs.stdout == ""
        assert re.search(r"no output on node-\d; failed: start failed", logs.stderr), logs.stderr

        # Bad --tail is refused; a workload that never ran anywhere is not the controller's fault.
        tail = aiwo(state, "logs", "counter", "--tail", "-5")
        assert tail.returncode == 2 and "--tail" in tail.stderr
        last = aiwo(state, "logs", "counter", "--tail", "1")
        assert last.returncode == 0 and len(last.stdout.splitlines()) == 1
        where = workload(state, "counter")["node"]
        elsewhere = "node-2" if where == "node-1" else "node-1"
        never = aiwo(state, "logs", "counter", "--node", elsewhere)
        assert never.returncode == 1
        assert never.stderr == (
            "aiwo: workload default/counter has no log on this node: its process has not "
            f"started here ({elsewhere})\n"
        )


def test_down_stops_a_detached_cluster_and_reset_wipes_it_only_when_stopped(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    started = aiwo(state, "up", "--detach", "--nodes", "1", "--gpus-per-node", "2",
                   timeout_s=150)  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("aiwo is up in the background (pid ")
    cluster = json.loads((state / "cluster.json").read_text())
    try:
        wait_for(lambda: node_ready(state), 30, "node-1 not ready")
        # A workload that runs itself but whose process never attached is not "running".
        registered = aiwo(state, "register", "ghost", "--gpus", "1", "--wait")
        assert registered.returncode == 0, registered.stderr

        def ghost_shown_placed() -> bool:
            ghost = workload(state, "ghost")
            return ghost["phase"] == "placed" and ghost["message"].endswith(
                "its process is not attached"
            )

        wait_for(ghost_shown_placed, 20, "a process-less workload shown as running")

        refused = aiwo(state, "reset", "--yes")
        assert refused.returncode == 1
        assert refused.stderr == (
            f"aiwo: a cluster is running in {state.resolve()} (pid {cluster['pid']}); "
            "stop it first (`aiwo down`)\n"
        )
        assert (state / "etcd").is_dir()
    finally:
        down = aiwo(state, "down")
    assert down.returncode == 0, down.stderr
    assert down.stdout == f"stopped the cluster in {state.resolve()} (pid {cluster['pid']})\n"
    assert not [p["pid"] for p in cluster["processes"] if _alive(p["pid"])]
    again = aiwo(state, "down")
    assert again.returncode == 1
    assert again.stderr == f"aiwo: no cluster is running in {state.resolve()}\n"

    (tmp_path / "state" / "mine.txt").write_text("not aiwo's")
    declined = subprocess.run(
        [str(BIN / "aiwo"), "reset"], env=_env(state), input="n\n",
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert declined.returncode == 1 and (state / "etcd").is_dir()
    wiped = aiwo(state, "reset", "--yes")
    assert wiped.returncode == 0, wiped.stderr
    assert sorted(p.name for p in state.iterdir()) == ["mine.txt"]  # only aiwo's entries go


def test_the_demo_starts_from_an_empty_cluster(tmp_path: Path) -> None:
    from sdk import SyncClient
    from sdk.cli.local_cluster import ClusterSpec, LocalCluster

    state = tmp_path / "state"
    first = LocalCluster(ClusterSpec(state, nodes=1, gpus_per_node=2, default_ports=False))
    first.start()
    try:
        with SyncClient.connect(first.controller_address) as client:
            client.register("left-over")
    finally:
        first.stop()
    for fresh, expected in ((False, ["left-over"]), (True, [])):
        spec = ClusterSpec(state, nodes=1, gpus_per_node=2, default_ports=False, fresh_state=fresh)
        cluster = LocalCluster(spec)
        cluster.start()
        try:
            out = aiwo(state, "--controller", cluster.controller_address, "workloads", "-o", "json")
            assert [w["name"] for w in json.loads(out.stdout)] == expected
        finally:
            cluster.stop()
