"""One cluster per state directory: a second `aiwo up` refuses and touches nothing; a
killed cluster's leftovers are cleaned by the next `aiwo up`. Real processes throughout."""

from __future__ import annotations

import json
import os
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


def node_ready(state: Path) -> bool:
    out = aiwo(state, "nodes", "-o", "json")
    return out.returncode == 0 and any(n["state"] == "ready" for n in json.loads(out.stdout))


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
