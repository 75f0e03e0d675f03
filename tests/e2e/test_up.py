"""`aiwo up` as a user runs it: a real local cluster, found by the CLI, stopped cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie awaiting its parent's wait() is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_for_cluster(state: Path, up: subprocess.Popen[str], timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert up.poll() is None, up.stdout.read() if up.stdout else ""
        try:
            data = json.loads((state / "cluster.json").read_text())
            if data.get("controller"):
                return data
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError("cluster.json was not written")


def _cli(state: Path, *args: str) -> list[dict]:
    env = {**os.environ, "AIWO_STATE_DIR": str(state)}
    env.pop("AIWO_CONTROLLER", None)
    out = subprocess.run(
        [str(BIN / "aiwo"), *args, "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_up_serves_the_cli_and_stops_on_sigterm_leaving_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    up = subprocess.Popen(
        [
            str(BIN / "aiwo"),
            "up",
            "--state-dir",
            str(state),
            "--nodes",
            "2",
            "--gpus-per-node",
            "4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        cluster = _wait_for_cluster(state, up, 60)
        pids = [p["pid"] for p in cluster["processes"]]
        roles = {p["role"] for p in cluster["processes"]}
        assert roles == {"etcd", "controller", "agent", "gateway"}
        assert cluster["gateway"].startswith("127.0.0.1:")

        deadline = time.monotonic() + 20
        while True:
            nodes = _cli(state, "nodes")
            if len(nodes) == 2 and all(n["state"] in ("ready", "NODE_STATE_READY") for n in nodes):
                break
            assert time.monotonic() < deadline, nodes
            time.sleep(0.2)
        gpus = _cli(state, "gpus")
        assert len(gpus) == 8 and {g["model"] for g in gpus} == {"H100"}
        assert {g["node"] for g in gpus} == {"node-1", "node-2"}

        up.send_signal(signal.SIGTERM)
        up.wait(30)
        assert up.returncode == 0
        assert not [pid for pid in pids if _alive(pid)], "processes left behind"
        assert not (state / "cluster.json").exists()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
