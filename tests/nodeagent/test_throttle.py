"""Throttling with real processes: every mechanism this host allows, measured from /proc.

CPU shares are utime+stime of a busy-loop child over a wall-clock window; they need real
seconds, so the long measurement (5 s at 30 %) runs once per mechanism and the rest is short.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from nodeagent.throttle import (
    CAPABILITY_CGROUP_V1,
    CAPABILITY_CGROUP_V2,
    CAPABILITY_SIGNALS,
    CgroupV1Throttler,
    CgroupV2Throttler,
    SignalThrottler,
    ThrottleConfig,
    ThrottleError,
    Throttler,
    detect,
    procfs,
)
from nodeagent.throttle.base import check_cpu_fraction, usable_cores
from nodeagent.throttle.cgroup_v2 import cpu_max_value
from nodeagent.throttle.detect import find_cgroup_v1_mounts, prepare_cgroup_v2_root
from nodeagent.throttle.duty import DutyController
from tests.helpers import assert_eventually

BUSY = [sys.executable, "-c", "while True: pass"]
WORKLOAD = "test/busy"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start processes in their own session; whatever happens, they are resumed and killed."""
    children: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str] | None = None) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(argv or BUSY, start_new_session=True)
        children.append(child)
        return child

    yield start
    for child in children:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.killpg(child.pid, sig)
            except ProcessLookupError:
                pass
        child.wait(timeout=10)


def cgroup2_mount() -> Path | None:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if parts[2] == "cgroup2":
            return Path(parts[1])
    return None


def build(mechanism: str, tag: str, need_cpu: bool = True) -> Throttler:
    """A throttler for `mechanism` with names of its own, or skip saying why it cannot exist.

    Without `need_cpu`, cgroup v2 falls back to a plain child of the v2 mount: freezing works
    there even on a hybrid host whose cpu controller is bound to v1.
    """
    try:
        if mechanism == "signals":
            return SignalThrottler()
        if mechanism == "cgroup-v1":
            cpu, freezer = find_cgroup_v1_mounts(Path("/proc/self/mounts"))
            return CgroupV1Throttler(cpu, freezer, group=tag)
        mount = cgroup2_mount()
        if mount is None:
            pytest.skip("cgroup-v2: no cgroup2 hierarchy mounted")
        try:
            prepare_cgroup_v2_root(mount / tag)
        except ThrottleError:
            if need_cpu:
                raise
            (mount / tag).mkdir(exist_ok=True)
        return CgroupV2Throttler(mount / tag)
    except (ThrottleError, OSError) as exc:
        # Here (hybrid host) the v2 hierarchy exists but the cpu controller is bound to v1.
        reason = exc.reason if isinstance(exc, ThrottleError) else str(exc)
        _remove_tree(tag)
        pytest.skip(f"{mechanism} not available on this host: {reason}")


def _remove_tree(tag: str) -> None:
    """Remove test cgroups left by a failed run (children first)."""
    mounts = [
        Path(line.split()[1])
        for line in Path("/proc/self/mounts").read_text().splitlines()
        if line.split()[2] in ("cgroup", "cgroup2")
    ]
    for mount in mounts:
        root = mount / tag
        if root.is_dir():
            for child in root.iterdir():
                if child.is_dir():
                    child.rmdir()
            root.rmdir()


@pytest.fixture
async def make_throttler() -> AsyncIterator[Callable[..., Throttler]]:
    made: list[Throttler] = []
    tag = f"aiwo-test-{uuid.uuid4().hex[:8]}"

    def make(mechanism: str, need_cpu: bool = True) -> Throttler:
        throttler = build(mechanism, tag, need_cpu)
        made.append(throttler)
        return throttler

    yield make
    for throttler in made:
        await throttler.close()
    _remove_tree(tag)


async def cpu_share(pid: int, window_s: float) -> float:
    """Fraction of one core the process used over `window_s` of wall time."""
    before = procfs.read_stat(pid)
    assert before is not None
    start = time.monotonic()
    await asyncio.sleep(window_s)
    after = procfs.read_stat(pid)
    assert after is not None
    return (after.cpu_time_s - before.cpu_time_s) / (time.monotonic() - start)


async def share_beside_control(
    pid: int, spawn: Callable[..., subprocess.Popen[bytes]], window_s: float
) -> tuple[float, float]:
    """The process's CPU share and that of an unthrottled busy control in the same window.

    "Its share back" is what an unthrottled process gets on this shared, noisy machine right
    now, so the two are measured side by side (DESIGN.md, performance rules).
    """
    control = spawn()
    share, control_share = await asyncio.gather(
        cpu_share(pid, window_s), cpu_share(control.pid, window_s)
    )
    return share, control_share


def assert_unthrottled(share: float, control_share: float) -> None:
    # 0.7 of a core on an idle machine; on a loaded one, most of what the control gets (the
    # control's start-up and scheduler noise over a 1.5 s window make an exact match
    # unlikely: 0.75 of the control failed once under a CPU hog, at 0.746). A 0.3-core
    # throttle still left in force would fail either bound unless the control got < 0.46.
    assert share >= min(0.7, 0.65 * control_share), (
        f"unthrottled, got {share:.3f} against {control_share:.3f} for the control"
    )


MECHANISMS = ["cgroup-v2", "cgroup-v1", "signals"]


# --- the measured behaviour -----------------------------------------------------------------


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_throttle_freeze_and_restore_cpu_share(
    mechanism: str,
    make_throttler: Callable[..., Throttler],
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    throttler = make_throttler(mechanism)
    busy = spawn()
    await throttler.attach(WORKLOAD, busy.pid)

    await throttler.set_cpu_fraction(WORKLOAD, 0.3)
    await asyncio.sleep(0.2)
    throttled = await cpu_share(busy.pid, 5.0)

    await throttler.freeze(WORKLOAD)
    frozen = await cpu_share(busy.pid, 1.5)

    await throttler.thaw(WORKLOAD)
    await throttler.set_cpu_fraction(WORKLOAD, None)
    await asyncio.sleep(0.2)
    restored, control_share = await share_beside_control(busy.pid, spawn, 2.0)

    print(
        f"{throttler.capability}: 30% -> {throttled:.3f}, frozen -> {frozen:.3f}, "
        f"unthrottled -> {restored:.3f} (control {control_share:.3f})"
    )
    assert 0.2 <= throttled <= 0.4, f"throttled to 0.3 of a core, got {throttled:.3f}"
    assert frozen <= 0.02, f"frozen, got {frozen:.3f}"
    assert_unthrottled(restored, control_share)


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_the_limit_covers_the_whole_group(
    mechanism: str,
    make_throttler: Callable[..., Throttler],
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    """Two busy processes in one workload share its 0.3 of a core, as under a cgroup quota."""
    throttler = make_throttler(mechanism)
    busy = f"{sys.executable} -c 'while True: pass'"
    leader = spawn(["/bin/sh", "-c", f"{busy} & {busy} & wait"])
    await assert_eventually(lambda: len(procfs.group_members(leader.pid)) == 3)
    await throttler.attach(WORKLOAD, leader.pid)
    await throttler.set_cpu_fraction(WORKLOAD, 0.3)
    await asyncio.sleep(0.5)
    children = [pid for pid in procfs.group_members(leader.pid) if pid != leader.pid]
    shares = await asyncio.gather(*(cpu_share(pid, 3.0) for pid in children))
    print(f"{throttler.capability}: two processes at 0.3 -> {sum(shares):.3f} {shares}")
    assert 0.2 <= sum(shares) <= 0.4, f"group throttled to 0.3, got {shares}"


async def test_cgroup_v2_freeze_on_this_host(
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    """Freezing works on any cgroup2 hierarchy, even one without the cpu controller (hybrid)."""
    mount = cgroup2_mount()
    if mount is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    root = mount / f"aiwo-test-{uuid.uuid4().hex[:8]}"
    try:
        root.mkdir()
    except OSError as exc:
        pytest.skip(f"cannot create a cgroup under {mount}: {exc.strerror}")
    throttler = CgroupV2Throttler(root)
    try:
        busy = spawn()
        await throttler.attach(WORKLOAD, busy.pid)
        assert str(busy.pid) in (root / "test.busy" / "cgroup.procs").read_text().split()
        await throttler.freeze(WORKLOAD)
        frozen = await cpu_share(busy.pid, 1.0)
        await throttler.thaw(WORKLOAD)
        thawed, control_share = await share_beside_control(busy.pid, spawn, 1.5)
        print(
            f"cgroup-v2 on {mount}: frozen -> {frozen:.3f}, thawed -> {thawed:.3f}"
            f" (control {control_share:.3f})"
        )
        assert frozen <= 0.02, f"frozen, got {frozen:.3f}"
        assert_unthrottled(thawed, control_share)
        if not (root / "test.busy" / "cpu.max").exists():
            with pytest.raises(ThrottleError, match="cpu controller is not enabled"):
                await throttler.set_cpu_fraction(WORKLOAD, 0.5)
        await throttler.release(WORKLOAD)
        assert not (root / "test.busy").exists()
    finally:
        await throttler.close()
        if root.exists():
            _remove_tree(root.name)


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_release_resumes_a_frozen_process(
    mechanism: str,
    make_throttler: Callable[..., Throttler],
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    throttler = make_throttler(mechanism, need_cpu=False)
    busy = spawn()
    await throttler.attach(WORKLOAD, busy.pid)
    await throttler.freeze(WORKLOAD)
    await throttler.release(WORKLOAD)
    # Running again (frozen it gets 0); the bar is low because the machine is shared, and
    # a few windows are allowed: under load the thawed process may wait for a core.
    shares = []
    for _ in range(6):
        shares.append(await cpu_share(busy.pid, 0.5))
        if shares[-1] >= 0.2:
            break
    assert max(shares) >= 0.2, shares
    with pytest.raises(ThrottleError, match="unknown workload"):
        await throttler.freeze(WORKLOAD)
    await throttler.release(WORKLOAD)  # a second release is a no-op


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_attach_takes_the_whole_process_group(
    mechanism: str,
    make_throttler: Callable[..., Throttler],
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    throttler = make_throttler(mechanism, need_cpu=False)
    # A shell with a busy child: the child is in the shell's process group.
    leader = spawn(["/bin/sh", "-c", f"{sys.executable} -c 'while True: pass' & wait"])

    def the_child() -> int | None:
        members = procfs.group_members(leader.pid)
        return next((pid for pid in members if pid != leader.pid), None)

    child = await assert_eventually(the_child)
    assert child is not None
    await throttler.attach(WORKLOAD, leader.pid)
    await throttler.freeze(WORKLOAD)
    assert await cpu_share(child, 0.5) <= 0.02
    await throttler.release(WORKLOAD)
    assert await cpu_share(child, 0.5) >= 0.2


async def test_close_resumes_every_stopped_workload(
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    throttler = SignalThrottler()
    first, second = spawn(), spawn()
    await throttler.attach("test/one", first.pid)
    await throttler.attach("test/two", second.pid)
    await throttler.set_cpu_fraction("test/one", 0.1)
    await throttler.freeze("test/two")
    assert procfs.read_stat(second.pid).state == "T"  # type: ignore[union-attr]
    await throttler.close()

    def both_running() -> bool:
        stats = [procfs.read_stat(p.pid) for p in (first, second)]
        return all(stat is not None and stat.state in "RS" for stat in stats)

    await assert_eventually(both_running)


# --- errors with reasons --------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_errors_name_the_problem(
    mechanism: str,
    make_throttler: Callable[..., Throttler],
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    throttler = make_throttler(mechanism, need_cpu=False)
    with pytest.raises(ThrottleError, match="unknown workload"):
        await throttler.set_cpu_fraction("test/nobody", 0.5)
    with pytest.raises(ThrottleError, match="unknown workload"):
        await throttler.thaw("test/nobody")
    for bad_id in ("Test/Busy", "../etc", "no-namespace", "a/b/c", ""):
        with pytest.raises(ThrottleError, match="invalid workload id"):
            await throttler.attach(bad_id, os.getpid())

    dead = spawn(["/bin/true"])
    dead.wait()
    with pytest.raises(ThrottleError, match="does not exist or has exited"):
        await throttler.attach(WORKLOAD, dead.pid)

    short = spawn([sys.executable, "-c", "import time; time.sleep(0.3)"])
    await throttler.attach(WORKLOAD, short.pid)
    for bad in (0.0, -0.5, 0.001, math.nan, math.inf, usable_cores() + 1):
        with pytest.raises(ThrottleError, match="cpu fraction"):
            await throttler.set_cpu_fraction(WORKLOAD, bad)
    short.wait()
    with pytest.raises(ThrottleError, match="no live processes"):
        await throttler.set_cpu_fraction(WORKLOAD, 0.5)
    with pytest.raises(ThrottleError, match="no live processes"):
        await throttler.freeze(WORKLOAD)


async def test_signals_refuse_the_agents_own_process_group() -> None:
    throttler = SignalThrottler()
    try:
        with pytest.raises(ThrottleError, match="agent's own process group"):
            await throttler.attach(WORKLOAD, os.getpid())
    finally:
        await throttler.close()


def test_fraction_semantics() -> None:
    assert check_cpu_fraction(None) is None
    assert check_cpu_fraction(0.3) == 0.3
    assert check_cpu_fraction(1.0) is None  # the wire's "1 = unthrottled"
    assert check_cpu_fraction(MIN_FRACTION := 0.01) == MIN_FRACTION
    assert cpu_max_value(0.3) == "30000 100000"
    assert cpu_max_value(None) == "max 100000"


# --- detection ------------------------------------------------------------------------------


def test_detection_without_cgroups_falls_back_to_signals(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n")
    config = ThrottleConfig(cgroup_v2_root=tmp_path / "cg" / "aiwo", mounts_file=mounts)
    detection = detect(config)
    assert detection.throttler.capability == CAPABILITY_SIGNALS
    reasons = {p.mechanism: p.reason for p in detection.probes if not p.ok}
    assert "is not a cgroup v2 directory" in reasons["cgroup-v2"]
    assert reasons["cgroup-v1"] == "no cgroup v1 hierarchy mounted for: cpu, freezer"
    assert not (tmp_path / "cg").exists()  # probing created nothing


def test_detection_honours_the_operators_choice(tmp_path: Path) -> None:
    assert (
        detect(ThrottleConfig(mechanisms=("signals",))).throttler.capability == CAPABILITY_SIGNALS
    )
    with pytest.raises(ThrottleError, match="no throttle mechanism usable: cgroup-v2: "):
        detect(ThrottleConfig(cgroup_v2_root=tmp_path / "aiwo", mechanisms=("cgroup-v2",)))
    with pytest.raises(ValueError, match="unknown throttle mechanisms"):
        detect(ThrottleConfig(mechanisms=("cgroup-v3",)))


async def test_detection_on_this_host() -> None:
    """Picks the best writable mechanism; cleans up its probes either way."""
    tag = f"aiwo-test-{uuid.uuid4().hex[:8]}"
    mount = cgroup2_mount() or Path("/sys/fs/cgroup")
    detection = detect(ThrottleConfig(cgroup_v2_root=mount / tag, cgroup_v1_group=tag))
    try:
        probes = {p.mechanism: p for p in detection.probes}
        capability = detection.throttler.capability
        print("probes:", detection.probes)
        if capability == CAPABILITY_CGROUP_V1:
            assert not probes["cgroup-v2"].ok and probes["cgroup-v2"].reason
        else:
            assert capability in (CAPABILITY_CGROUP_V2, CAPABILITY_SIGNALS)
        for probe in detection.probes:
            assert probe.ok or probe.reason
    finally:
        await detection.throttler.close()
        _remove_tree(tag)


# --- the duty-cycle controller, simulated ---------------------------------------------------


def simulate(fraction: float, rate_of: Callable[[int], float], periods: int = 200) -> float:
    """Share of one core a simulated workload gets under the controller.

    `rate_of(period)`: CPU-seconds per running second (1 busy thread = 1.0, contended = 0.5,
    two threads = 2.0). CPU time is read in 10 ms ticks, as /proc reports it.
    """
    controller = DutyController(fraction, 0.1)
    true_cpu = reported_before = 0.0
    for period in range(periods):
        run_s = controller.next_run_s()
        true_cpu += rate_of(period) * run_s
        reported = math.floor(true_cpu * 100) / 100
        controller.observe(reported - reported_before, run_s, 0.1)
        reported_before = reported
    return true_cpu / (periods * 0.1)


@pytest.mark.parametrize("rate", [1.0, 0.5, 0.25, 2.0, 4.0])
def test_controller_tracks_cpu_time_not_wall_time(rate: float) -> None:
    # At rate 0.25 the workload cannot get 0.3 even running all the time; it then runs freely.
    assert simulate(0.3, lambda _: rate) == pytest.approx(min(0.3, rate), abs=0.015)


def test_controller_recovers_from_an_idle_stretch_without_a_long_burst() -> None:
    # Idle for 100 periods, then busy: the banked credit is at most one period's quota.
    share = simulate(0.3, lambda p: 0.0 if p < 100 else 1.0, periods=300)
    assert share == pytest.approx(0.3 * 200 / 300, abs=0.02)


def test_nested_v2_root_is_refused_without_leaving_directories(tmp_path: Path) -> None:
    """A root several levels down (aiwo/<node>) names the cgroup that blocks it, creates nothing."""
    with pytest.raises(ThrottleError, match=f"{tmp_path} is not a cgroup v2 directory"):
        prepare_cgroup_v2_root(tmp_path / "aiwo" / "node-a")
    assert list(tmp_path.iterdir()) == []
    mount = cgroup2_mount()
    if mount is None or "cpu" in (mount / "cgroup.controllers").read_text().split():
        return  # the refusal below is specific to hybrid hosts like this one
    tag = f"aiwo-test-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ThrottleError, match=f"cpu controller not available in {mount} "):
        prepare_cgroup_v2_root(mount / tag / "node-a")
    assert not (mount / tag).exists()
