"""The executor against real actuators: the simulated GPU backend and real processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nodeagent.executor import Executor
from nodeagent.gpu import make_backend
from nodeagent.supervisor import Supervisor
from sdk.pb.aiwo.v1 import node_pb2, types_pb2
from tests.helpers import assert_eventually


def cmd(cid: str, **action: object) -> types_pb2.Command:
    return types_pb2.Command(id=cid, epoch=1, **action)  # type: ignore[arg-type]


@pytest.fixture
async def executor(tmp_path: Path):  # type: ignore[no-untyped-def]
    backend = make_backend("sim", model="H100", count=2, node_name="n1")
    supervisor = Supervisor(tmp_path / "logs", tmp_path / "ckpt", "127.0.0.1:1")
    yield Executor(backend, supervisor=supervisor)
    await supervisor.shutdown(1.0)


async def test_power_limit_outside_the_range_fails_with_the_reason(executor: Executor) -> None:
    ack = await executor.execute(
        cmd("a", set_power_limit=types_pb2.SetPowerLimit(gpu_index=0, watts=50))
    )
    assert not ack.ok and "50" in ack.reason and "700" in ack.reason
    ok = await executor.execute(
        cmd("b", set_power_limit=types_pb2.SetPowerLimit(gpu_index=0, watts=400))
    )
    assert ok.ok
    assert executor.backend.sample(1.0)[0].power_limit_w == 400


async def test_stop_for_a_workload_not_run_here_is_a_failed_ack(executor: Executor) -> None:
    ack = await executor.execute(cmd("s", stop_workload=types_pb2.StopWorkload(workload="ns/x")))
    assert not ack.ok and "ns/x" in ack.reason


async def test_missing_executable_fails_the_start_with_the_reason(executor: Executor) -> None:
    start = types_pb2.StartWorkload(
        workload="ns/missing",
        uid="u1",
        launch=types_pb2.LaunchSpec(command=["/nonexistent/bin/trainer"]),
    )
    ack = await executor.execute(cmd("m", start_workload=start))
    assert not ack.ok and "/nonexistent/bin/trainer" in ack.reason


async def test_sync_releases_what_the_controller_no_longer_places_here(executor: Executor) -> None:
    sleeper = types_pb2.LaunchSpec(command=[sys.executable, "-c", "import time; time.sleep(60)"])
    for name in ("keep", "gone"):
        ack = await executor.execute(
            cmd(
                f"start-{name}",
                start_workload=types_pb2.StartWorkload(
                    workload=f"ns/{name}", uid=name, launch=sleeper, gpus=[0]
                ),
            )
        )
        assert ack.ok, ack.reason
        await executor.execute(
            cmd(
                f"assign-{name}",
                assign_workload=types_pb2.AssignWorkload(
                    workload=f"ns/{name}", gpus=[0], milli_gpu=500
                ),
            )
        )
    assert executor.supervisor is not None
    gone_pid = executor.supervisor.pid("ns/gone")
    assert gone_pid is not None
    released = await executor.reconcile(
        node_pb2.AssignmentSet(
            epoch=1,
            assignments=[types_pb2.AssignWorkload(workload="ns/keep", gpus=[0], milli_gpu=500)],
            managed=[types_pb2.StartWorkload(workload="ns/keep", uid="keep", launch=sleeper)],
        )
    )
    assert set(released) == {"ns/gone"}
    assert set(executor.assigned) == {"ns/keep"}
    assert set(executor.supervisor.running()) == {"ns/keep"}
    await assert_eventually(
        lambda: (
            not Path(f"/proc/{gone_pid}").exists()
            or Path(f"/proc/{gone_pid}/stat").read_text().split()[2] == "Z"
        )
    )


async def test_a_restarted_agent_stops_what_its_previous_life_left_running(tmp_path: Path) -> None:
    # One exec (`sh -c "sleep 60"` would exec twice): while a process execs, its
    # /proc/<pid>/environ reads empty, and the reap below would miss the owner's mark.
    sleeper = ("sleep", "60")
    from nodeagent.launch import LaunchSpec

    first = Supervisor(tmp_path / "logs", tmp_path / "ckpt", "127.0.0.1:1", owner="node-q")
    pid = await first.start("ns/left", "u1", LaunchSpec(command=sleeper), [0])
    assert pid is not None
    # The launch returns as the exec begins, before the new environment can be read.
    environ = Path(f"/proc/{pid}/environ")
    await assert_eventually(lambda: b"AIWO_OWNER=node-q" in environ.read_bytes().split(b"\0"))
    # The agent dies without stopping its workloads (kill -9): a new supervisor takes over.
    second = Supervisor(tmp_path / "logs", tmp_path / "ckpt", "127.0.0.1:1", owner="node-q")
    other = Supervisor(tmp_path / "logs", tmp_path / "ckpt", "127.0.0.1:1", owner="node-r")
    assert await other.reap_leftovers() == []
    groups = await second.reap_leftovers(grace_s=2)
    assert pid in groups

    def gone() -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
        except OSError:
            return True

    await assert_eventually(gone)
    await first.shutdown(1.0)


async def test_without_gpu_control_every_gpu_setting_is_refused_and_nothing_changes() -> None:
    backend = make_backend("sim", model="H100", count=1, node_name="n1")
    executor = Executor(backend, gpu_control=False)
    actions = {
        "set_power_limit": types_pb2.SetPowerLimit(gpu_index=0, watts=400),
        "reset_power_limit": types_pb2.ResetPowerLimit(gpu_index=0),
        "lock_clocks": types_pb2.LockClocks(gpu_index=0, min_mhz=900, max_mhz=900),
        "reset_clocks": types_pb2.ResetClocks(gpu_index=0),
    }
    for name, action in actions.items():
        ack = await executor.execute(cmd(name, **{name: action}))
        assert not ack.ok and ack.reason.startswith(f"{name}: GPU control is off")
    sample = backend.sample(1.0)[0]
    assert sample.power_limit_w == 700 and sample.sm_clock_mhz <= 1980
    assign = types_pb2.AssignWorkload(workload="default/a", gpus=[0], milli_gpu=500)
    assert (await executor.execute(cmd("w", assign_workload=assign))).ok  # the rest still works


async def test_the_throttles_in_force_are_known_for_telemetry(tmp_path: Path) -> None:
    from nodeagent.throttle.signals import SignalThrottler

    throttler = SignalThrottler()
    supervisor = Supervisor(tmp_path / "logs", tmp_path / "ckpt", "127.0.0.1:1", throttler)
    executor = Executor(make_backend("sim", count=1, node_name="n1"), supervisor, throttler)
    sleeper = types_pb2.LaunchSpec(command=[sys.executable, "-c", "import time; time.sleep(60)"])
    start = types_pb2.StartWorkload(workload="ns/job", uid="u", launch=sleeper, gpus=[0])
    try:
        assert (await executor.execute(cmd("s", start_workload=start))).ok

        async def throttle(cid: str, **how: object) -> dict[str, float]:
            action = types_pb2.ThrottleWorkload(workload="ns/job", **how)  # type: ignore[arg-type]
            ack = await executor.execute(cmd(cid, throttle_workload=action))
            assert ack.ok, ack.reason
            return executor.throttles()

        assert executor.throttles() == {}
        assert await throttle("t1", cpu_fraction=0.3) == {"ns/job": 0.3}
        assert await throttle("t2", freeze=True) == {"ns/job": 0.0}
        assert await throttle("t3", cpu_fraction=1.0) == {}  # unthrottled
        assert await throttle("t4", cpu_fraction=0.5) == {"ns/job": 0.5}
        stop = types_pb2.StopWorkload(workload="ns/job", grace_s=2)
        assert (await executor.execute(cmd("x", stop_workload=stop))).ok
        assert executor.throttles() == {}  # gone with its process
    finally:
        await supervisor.shutdown(1.0)
        await throttler.close()


async def test_clock_locks_it_holds_are_remembered_across_a_restart(tmp_path: Path) -> None:
    from nodeagent.clock_locks import ClockLocks

    path = tmp_path / "clock-locks.json"
    backend = make_backend("sim", model="H100", count=2, node_name="n1")
    executor = Executor(backend, clock_locks=ClockLocks(path))
    lock = types_pb2.LockClocks(gpu_index=1, min_mhz=900, max_mhz=1200)
    assert (await executor.execute(cmd("l", lock_clocks=lock))).ok
    too_fast = types_pb2.LockClocks(gpu_index=0, min_mhz=900, max_mhz=9000)
    assert not (await executor.execute(cmd("x", lock_clocks=too_fast))).ok  # not recorded
    assert executor.clock_locks.items() == [(1, (900, 1200))]
    # A new agent process on the same state directory knows the lock its predecessor set.
    assert ClockLocks(path).items() == [(1, (900, 1200))]
    reset = types_pb2.ResetClocks(gpu_index=1)
    assert (await executor.execute(cmd("r", reset_clocks=reset))).ok
    assert executor.clock_locks.items() == [] and ClockLocks(path).items() == []


def test_an_unreadable_clock_locks_file_is_no_locks(tmp_path: Path) -> None:
    from nodeagent.clock_locks import ClockLocks

    path = tmp_path / "clock-locks.json"
    path.write_text('{"0": "half-written')
    locks = ClockLocks(path)
    assert locks.items() == []
    locks.set(0, 800, 800)  # and it is usable: the next write replaces the file whole
    assert ClockLocks(path).items() == [(0, (800, 800))]
