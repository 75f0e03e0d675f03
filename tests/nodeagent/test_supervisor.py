"""The supervisor with real processes: environment, logs, exits, restarts, stops, no orphans."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nodeagent.launch import (
    LaunchError,
    LaunchSpec,
    SupervisorError,
    UnknownWorkloadError,
)
from nodeagent.supervisor import Supervisor
from nodeagent.throttle import SignalThrottler, procfs
from tests.helpers import assert_eventually
from tests.nodeagent.process_events import Recorder

PY = sys.executable
WORKLOAD = "team-a/job-1"


@pytest.fixture
def events() -> Recorder:
    return Recorder()


@pytest.fixture
async def supervisor(tmp_path: Path, events: Recorder) -> AsyncIterator[Supervisor]:
    sup = Supervisor(
        log_dir=tmp_path / "logs",
        checkpoint_root=tmp_path / "ckpt",
        controller_address="127.0.0.1:7070",
        throttler=None,
        on_event=events,
        base_env={"PATH": "/usr/bin:/bin", "AGENT_ONLY": "kept"},
        leftover_grace_s=0.5,
    )
    yield sup
    await sup.shutdown(grace_s=1.0)
    assert sup.running() == {}


def spec(code: str, **options: object) -> LaunchSpec:
    return LaunchSpec(command=(PY, "-c", code), **options)  # type: ignore[arg-type]


async def wait_ready(path: Path, marker: str = "ready") -> None:
    """Wait until the child has printed `marker` (its signal handlers are installed by then)."""
    await assert_eventually(lambda: path.exists() and marker in path.read_text(), 10.0)


async def test_environment_gpus_and_logs(
    supervisor: Supervisor, events: Recorder, tmp_path: Path
) -> None:
    code = (
        "import json, os, sys; "
        "keys = ['CUDA_VISIBLE_DEVICES', 'NVIDIA_VISIBLE_DEVICES', 'CUDA_DEVICE_ORDER', "
        "'AIWO_WORKLOAD', 'AIWO_WORKLOAD_UID', 'AIWO_CHECKPOINT_DIR', 'AIWO_CONTROLLER', "
        "'FROM_SPEC', 'AGENT_ONLY']; "
        "print(json.dumps({k: os.environ.get(k) for k in keys} | {'cwd': os.getcwd()})); "
        "print('to stderr', file=sys.stderr)"
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    launch = spec(
        code,
        # A spec may add variables but cannot claim other GPUs or another identity.
        env={"FROM_SPEC": "yes", "CUDA_VISIBLE_DEVICES": "7", "AIWO_WORKLOAD": "x/y"},
        working_dir=str(workdir),
    )
    pid = await supervisor.start(WORKLOAD, "uid-123", launch, [0, 2])
    assert pid is not None
    exited = await events.wait_for("exited")
    assert (exited.pid, exited.exit_code, exited.signal) == (pid, 0, "")
    assert exited.detail == "completed"

    out, err = supervisor.log_paths(WORKLOAD)
    assert out == tmp_path / "logs" / "team-a" / "job-1.out"
    seen = json.loads(out.read_text())
    checkpoint = tmp_path / "ckpt" / "team-a" / "job-1"
    assert seen == {
        "CUDA_VISIBLE_DEVICES": "0,2",
        "NVIDIA_VISIBLE_DEVICES": "0,2",
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "AIWO_WORKLOAD": WORKLOAD,
        "AIWO_WORKLOAD_UID": "uid-123",
        "AIWO_CHECKPOINT_DIR": str(checkpoint),
        "AIWO_CONTROLLER": "127.0.0.1:7070",
        "FROM_SPEC": "yes",
        "AGENT_ONLY": "kept",
        "cwd": str(workdir),
    }
    assert checkpoint.is_dir()
    assert err.read_text() == "to stderr\n"
    assert events.kinds() == ["started", "exited"]


async def test_no_gpus_means_empty_visible_devices(
    supervisor: Supervisor, events: Recorder
) -> None:
    code = "import os; print(repr(os.environ['CUDA_VISIBLE_DEVICES']))"
    await supervisor.start(WORKLOAD, "u", spec(code), [])
    await events.wait_for("exited")
    assert supervisor.log_paths(WORKLOAD)[0].read_text() == "''\n"


async def test_exit_code_and_killing_signal_are_reported(
    supervisor: Supervisor, events: Recorder
) -> None:
    await supervisor.start(WORKLOAD, "u", spec("import sys; sys.exit(3)"), [])
    failed = await events.wait_for("exited")
    assert (failed.exit_code, failed.signal) == (3, "")
    assert failed.detail == "failed; restart policy never"

    code = "import time; print('ready', flush=True); time.sleep(60)"
    await supervisor.start("team-a/job-2", "u", spec(code), [])
    await wait_ready(supervisor.log_paths("team-a/job-2")[0])
    await supervisor.signal("team-a/job-2", signal.SIGKILL)
    killed = await events.wait_for("exited", count=2)
    assert (killed.workload, killed.exit_code, killed.signal) == ("team-a/job-2", -9, "SIGKILL")


async def test_missing_executable_fails_once_without_retries(
    supervisor: Supervisor, events: Recorder, tmp_path: Path
) -> None:
    launch = LaunchSpec(
        command=("/nonexistent/bin/trainer", "--epochs", "3"),
        restart_policy="on-failure",
        backoff_initial_s=0.01,
    )
    with pytest.raises(LaunchError, match="executable '/nonexistent/bin/trainer'"):
        await supervisor.start(WORKLOAD, "u", launch, [0])
    bad_dir = LaunchSpec(command=("true",), working_dir=tmp_path / "missing")
    with pytest.raises(LaunchError, match=r"working directory .*missing does not exist"):
        await supervisor.start("team-a/job-2", "u", bad_dir, [])
    await asyncio.sleep(0.3)  # long enough for a retry storm to show
    failures = [e for e in events.events if e.kind == "start_failed"]
    assert [e.workload for e in failures] == [WORKLOAD, "team-a/job-2"]
    assert "No such file or directory" in failures[0].detail
    assert supervisor.running() == {}
    assert supervisor.pid(WORKLOAD) is None


async def test_on_failure_restarts_with_backoff_then_gives_up(
    supervisor: Supervisor, events: Recorder
) -> None:
    launch = spec(
        "import sys; print('run'); sys.exit(1)",
        restart_policy="on-failure",
        max_restarts=2,
        backoff_initial_s=0.2,
    )
    await supervisor.start(WORKLOAD, "u", launch, [])
    last = await events.wait_for("exited", count=3)
    assert last.detail == "failed; giving up after 2 restarts"
    assert events.kinds() == ["started", "exited", "restarted", "exited", "restarted", "exited"]
    exits = [e for e in events.events if e.kind == "exited"]
    restarts = [e for e in events.events if e.kind == "restarted"]
    assert exits[0].detail == "failed; restarting in 0.2 s"
    assert exits[1].detail == "failed; restarting in 0.4 s"
    # The backoff doubles: 0.2 s, then 0.4 s between an exit and the next start.
    assert restarts[0].time_unix - exits[0].time_unix >= 0.2
    assert restarts[1].time_unix - exits[1].time_unix >= 0.4
    assert restarts[1].detail == "restart 2/2 after 0.4 s"
    assert len({e.pid for e in restarts}) == 2
    # stdout is appended to across restarts.
    assert supervisor.log_paths(WORKLOAD)[0].read_text() == "run\nrun\nrun\n"
    await asyncio.sleep(0.5)  # nothing more happens after giving up
    assert len(events.events) == 6


async def test_on_failure_does_not_restart_success(
    supervisor: Supervisor, events: Recorder
) -> None:
    await supervisor.start(WORKLOAD, "u", spec("pass", restart_policy="on-failure"), [])
    assert (await events.wait_for("exited")).detail == "completed"
    await asyncio.sleep(0.2)
    assert events.kinds() == ["started", "exited"]


async def test_stop_kills_a_sigterm_ignoring_group_and_leaves_no_orphans(
    supervisor: Supervisor, events: Recorder
) -> None:
    # The leader and a grandchild both ignore SIGTERM; the grandchild is not our child.
    code = (
        "import signal, subprocess, sys, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        'print("child ready", flush=True); time.sleep(60)\']); '
        "print('ready', flush=True); time.sleep(60)"
    )
    pid = await supervisor.start(WORKLOAD, "u", spec(code), [])
    assert pid is not None
    out = supervisor.log_paths(WORKLOAD)[0]
    await wait_ready(out, "child ready")
    await wait_ready(out, "ready")
    assert len(procfs.group_members(pid)) == 2

    started = time.monotonic()
    final = await supervisor.stop(WORKLOAD, grace_s=0.5)
    took = time.monotonic() - started
    assert final is not None
    assert (final.kind, final.signal, final.detail) == ("exited", "SIGKILL", "stopped by the agent")
    assert 0.5 <= took < 5.0
    assert procfs.group_members(pid) == []  # the process group is gone
    assert supervisor.pid(WORKLOAD) is None
    with pytest.raises(UnknownWorkloadError, match="not managed by this agent"):
        await supervisor.stop(WORKLOAD)


async def test_stop_with_a_cooperative_workload_uses_sigterm(
    supervisor: Supervisor, events: Recorder
) -> None:
    code = "import time; print('ready', flush=True); time.sleep(60)"
    await supervisor.start(WORKLOAD, "u", spec(code, restart_policy="on-failure"), [])
    await wait_ready(supervisor.log_paths(WORKLOAD)[0])
    final = await supervisor.stop(WORKLOAD, grace_s=5.0)
    assert final is not None and final.signal == "SIGTERM"
    await asyncio.sleep(0.2)
    assert events.kinds() == ["started", "exited"]  # a stop is never restarted


async def test_stop_during_backoff_cancels_the_restart(
    supervisor: Supervisor, events: Recorder
) -> None:
    launch = spec("raise SystemExit(2)", restart_policy="on-failure", backoff_initial_s=30.0)
    await supervisor.start(WORKLOAD, "u", launch, [])
    await events.wait_for("exited")
    started = time.monotonic()
    final = await supervisor.stop(WORKLOAD, grace_s=1.0)
    assert time.monotonic() - started < 2.0
    assert final is not None and final.exit_code == 2
    assert events.kinds() == ["started", "exited"]


async def test_start_is_idempotent_per_workload(supervisor: Supervisor, events: Recorder) -> None:
    code = "import time; time.sleep(60)"
    first = await supervisor.start(WORKLOAD, "u1", spec(code), [0])
    again = await supervisor.start(WORKLOAD, "u1", spec(code), [0])
    assert first == again and first is not None
    assert supervisor.running() == {WORKLOAD: first}
    with pytest.raises(SupervisorError, match="already runs with uid u1"):
        await supervisor.start(WORKLOAD, "u2", spec(code), [0])
    assert events.kinds() == ["started"]
    with pytest.raises(SupervisorError, match="invalid workload id"):
        await supervisor.start("../etc", "u", spec(code), [])


async def test_shutdown_stops_everything(supervisor: Supervisor, events: Recorder) -> None:
    code = "import time; time.sleep(60)"
    pids = [await supervisor.start(f"team-a/job-{i}", "u", spec(code), []) for i in range(3)]
    await supervisor.shutdown(grace_s=2.0)
    assert supervisor.running() == {}
    assert all(procfs.group_members(pid) == [] for pid in pids if pid is not None)
    assert sorted(e.workload for e in events.events if e.kind == "exited") == [
        f"team-a/job-{i}" for i in range(3)
    ]


async def test_processes_are_attached_to_the_throttler(tmp_path: Path, events: Recorder) -> None:
    throttler = SignalThrottler()
    sup = Supervisor(tmp_path / "logs", tmp_path / "ckpt", "c:1", throttler, events)
    try:
        pid = await sup.start(WORKLOAD, "u", spec("import time; time.sleep(60)"), [])
        assert pid is not None
        assert throttler.workloads() == [WORKLOAD]
        await throttler.freeze(WORKLOAD)
        assert procfs.read_stat(pid).state == "T"  # type: ignore[union-attr]
        # A frozen workload still stops promptly: the supervisor thaws it for SIGTERM.
        final = await sup.stop(WORKLOAD, grace_s=5.0)
        assert final is not None and final.signal == "SIGTERM"
        assert throttler.workloads() == []  # released with the workload
    finally:
        await sup.shutdown(grace_s=1.0)
        await throttler.close()


def test_launch_spec_validation() -> None:
    with pytest.raises(ValueError, match="non-empty argv"):
        LaunchSpec(command=())
    with pytest.raises(ValueError, match="restart_policy"):
        LaunchSpec(command=("x",), restart_policy="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backoff_initial_s"):
        LaunchSpec(command=("x",), backoff_initial_s=-1)
    with pytest.raises(ValueError, match="health_path"):
        LaunchSpec(command=("x",), serve=True, health_path="healthz")
    with pytest.raises(ValueError, match="health_path"):
        LaunchSpec(command=("x",), serve=True, health_path="/a b\r\nHost: x")
    assert LaunchSpec(command=("x",), serve=True, health_path="").health_path == "/healthz"
    launch = LaunchSpec(command=["x", "y"], backoff_initial_s=1, backoff_max_s=5)  # type: ignore[arg-type]
    assert launch.command == ("x", "y")
    assert [launch.backoff_s(n) for n in range(5)] == [1, 2, 4, 5, 5]
