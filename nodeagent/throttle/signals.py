"""Throttling by SIGSTOP/SIGCONT duty cycling, for hosts where no cgroup may be written.

A throttled workload runs for part of each period (100 ms) and is stopped for the rest. How long
it runs follows the CPU time it actually used (duty.py), so "0.3 of a core" means 0.3 CPU-seconds
per second whether its core is contended or it runs several threads.

The cycle runs on a thread per throttled workload rather than an asyncio task: a busy event loop
would stretch the stopped phases and starve the workload, and a thread can still resume the
workload if the loop is wedged.

The process groups are signalled as a whole (``killpg``), so whatever a workload forks inside
its group is throttled with it.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from nodeagent.throttle import procfs
from nodeagent.throttle.base import (
    CAPABILITY_SIGNALS,
    ThrottleError,
    check_cpu_fraction,
    check_workload_id,
)
from nodeagent.throttle.duty import DutyController

DEFAULT_PERIOD_S = 0.1
FREEZE_TIMEOUT_S = 5.0
_POLL_S = 0.005


@dataclass
class _Group:
    workload: str
    pgids: set[int] = field(default_factory=set)
    fraction: float | None = None  # None: unthrottled
    frozen: bool = False
    released: bool = False
    # Bumped on every change so that a cycling thread notices and starts over from the new state.
    version: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)
    thread: threading.Thread | None = None


class SignalThrottler:
    capability = CAPABILITY_SIGNALS

    def __init__(self, period_s: float = DEFAULT_PERIOD_S) -> None:
        if not 0.01 <= period_s <= 10.0:
            raise ValueError(f"period_s {period_s} outside 0.01..10 s")
        self.period_s = period_s
        self._groups: dict[str, _Group] = {}
        self._own_pgid = os.getpgid(0)
        # If the agent exits without closing us, stopped workloads would stay stopped for good.
        # A weak reference keeps this hook from holding the throttler alive.
        self._atexit = _resume_at_exit(weakref.ref(self))
        atexit.register(self._atexit)

    # --- the Throttler interface --------------------------------------------------------------

    async def attach(self, workload: str, pid: int) -> None:
        check_workload_id(workload)
        stat = procfs.read_stat(pid)
        if stat is None or stat.state in ("Z", "X"):
            raise ThrottleError(f"process {pid} does not exist or has exited")
        if stat.pgid == self._own_pgid:
            # Stopping that group would stop the agent itself.
            raise ThrottleError(
                f"process {pid} is in the agent's own process group; start it in its own session"
            )
        group = self._groups.setdefault(workload, _Group(workload))
        with group.cond:
            group.pgids.add(stat.pgid)
            if group.frozen:
                self._signal(group, signal.SIGSTOP)
            group.version += 1
            group.cond.notify_all()

    async def set_cpu_fraction(self, workload: str, fraction: float | None) -> None:
        limit = check_cpu_fraction(fraction)
        group = self._live_group(workload)
        with group.cond:
            group.fraction = limit
            group.version += 1
            if limit is None and not group.frozen:
                self._signal(group, signal.SIGCONT)
            if limit is not None and group.thread is None:
                group.thread = threading.Thread(
                    target=self._duty_cycle,
                    args=(group,),
                    name=f"aiwo-throttle-{workload}",
                    daemon=True,
                )
                group.thread.start()
            group.cond.notify_all()

    async def freeze(self, workload: str) -> None:
        group = self._live_group(workload)
        with group.cond:
            group.frozen = True
            group.version += 1
            self._signal(group, signal.SIGSTOP)
            group.cond.notify_all()
        # SIGSTOP is delivered asynchronously; report frozen only once every member has stopped.
        deadline = time.monotonic() + FREEZE_TIMEOUT_S
        while not self._all_stopped(group):
            if time.monotonic() > deadline:
                raise ThrottleError(f"workload {workload} did not stop within {FREEZE_TIMEOUT_S} s")
            await asyncio.sleep(_POLL_S)

    async def thaw(self, workload: str) -> None:
        group = self._live_group(workload)
        with group.cond:
            group.frozen = False
            group.version += 1
            # With a limit set, the cycling thread resumes the group at the start of its period.
            if group.fraction is None:
                self._signal(group, signal.SIGCONT)
            group.cond.notify_all()

    async def release(self, workload: str) -> None:
        group = self._groups.pop(workload, None)
        if group is None:
            return
        thread = self._stop_group(group)
        if thread is not None:
            await asyncio.to_thread(thread.join, 1.0)

    async def close(self) -> None:
        for workload in list(self._groups):
            await self.release(workload)
        atexit.unregister(self._atexit)

    # --- helpers ------------------------------------------------------------------------------

    def workloads(self) -> list[str]:
        return sorted(self._groups)

    def _live_group(self, workload: str) -> _Group:
        group = self._groups.get(workload)
        if group is None:
            raise ThrottleError(f"unknown workload {workload!r}: no process attached")
        with group.cond:
            group.pgids = {pgid for pgid in group.pgids if procfs.group_alive(pgid)}
            if not group.pgids:
                raise ThrottleError(f"workload {workload} has no live processes")
        return group

    def _stop_group(self, group: _Group) -> threading.Thread | None:
        """Mark released and resume; the cycling thread sees `released` and ends."""
        with group.cond:
            group.released = True
            group.version += 1
            self._signal(group, signal.SIGCONT)
            group.cond.notify_all()
            return group.thread

    def _resume_all(self) -> None:
        for group in list(self._groups.values()):
            self._stop_group(group)

    def _all_stopped(self, group: _Group) -> bool:
        for pgid in list(group.pgids):
            for pid in procfs.group_members(pgid):
                stat = procfs.read_stat(pid)
                if stat is not None and stat.state not in ("T", "t", "Z", "X"):
                    return False
        return True

    @staticmethod
    def _signal(group: _Group, sig: signal.Signals) -> None:
        """Signal every process group of the workload; forget groups that are gone."""
        for pgid in list(group.pgids):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                group.pgids.discard(pgid)

    def _duty_cycle(self, group: _Group) -> None:
        """Run the group part of each period, stopped for the rest, until released.

        Signals are only sent with the group's lock held and after checking the state under it,
        so a freeze or release from the event loop is never undone by this thread.
        """
        meter = procfs.GroupCpuMeter()
        with group.cond:
            while not group.released:
                if group.frozen or group.fraction is None or not group.pgids:
                    group.cond.wait()
                    continue
                # A fresh controller for each new setting: the old debt was owed to another one.
                version = group.version
                controller = DutyController(group.fraction, self.period_s)
                meter.used_since_last_s(group.pgids, time.monotonic())
                while self._one_period(group, version, controller, meter):
                    pass

    def _one_period(
        self,
        group: _Group,
        version: int,
        controller: DutyController,
        meter: procfs.GroupCpuMeter,
    ) -> bool:
        """Run and stop the group for one period; False once its settings have changed."""
        start = time.monotonic()
        run_s = controller.next_run_s()
        if run_s > 0:
            self._signal(group, signal.SIGCONT)
            if not self._wait_unchanged(group, version, start + run_s):
                return False
        if run_s < self.period_s:
            self._signal(group, signal.SIGSTOP)
            if not self._wait_unchanged(group, version, start + self.period_s):
                return False
        now = time.monotonic()
        controller.observe(meter.used_since_last_s(group.pgids, now), run_s, now - start)
        return bool(group.pgids)

    @staticmethod
    def _wait_unchanged(group: _Group, version: int, deadline: float) -> bool:
        """Wait until `deadline`; False as soon as the group's state changes."""
        while group.version == version:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            group.cond.wait(remaining)
        return False


def _resume_at_exit(ref: weakref.ref[SignalThrottler]) -> Callable[[], None]:
    def resume() -> None:
        throttler = ref()
        if throttler is not None:
            throttler._resume_all()

    return resume
