"""What the cgroup v1 and v2 throttlers share: one cgroup (per hierarchy) per workload.

The mechanism-specific parts are the files that carry the quota and the freeze, and how to
find the cgroup a process came from; both subclasses fill those in.
"""

from __future__ import annotations

import asyncio
import errno
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from nodeagent.throttle import procfs
from nodeagent.throttle.base import ThrottleError, check_cpu_fraction, check_workload_id

# CFS bandwidth period. 100 ms is the kernel default; a shorter one costs scheduler overhead,
# a longer one makes a throttled process stall in longer bursts.
CFS_PERIOD_US = 100_000

# A freeze completes asynchronously (each task must reach the refrigerator); on an idle machine
# it takes microseconds, under load a few milliseconds.
FREEZE_TIMEOUT_S = 5.0
_POLL_S = 0.005

# rmdir of a cgroup fails with EBUSY until exiting tasks have left it; give them this long.
_RMDIR_TIMEOUT_S = 2.0


@dataclass
class CgroupGroup:
    workload: str
    dirs: tuple[Path, ...]  # one per hierarchy; dirs[0] is used to list the processes
    origin: tuple[Path, ...] = ()  # where the first attached process came from, per hierarchy
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def write_file(path: Path, value: str) -> None:
    """Write a cgroup control file; kernel refusals become ThrottleError with the file named."""
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as exc:
        raise ThrottleError(f"writing {value.strip()!r} to {path}: {exc.strerror}") from exc


def read_pids(procs_file: Path) -> list[int]:
    try:
        text = procs_file.read_text()
    except FileNotFoundError:
        return []
    return [int(line) for line in text.split()]


def dir_name(workload: str) -> str:
    # Names are [a-z0-9-], so '.' cannot occur in them: "ns.name" maps back to one workload.
    return workload.replace("/", ".")


class CgroupThrottler(ABC):
    """Base of the cgroup throttlers: attach/release bookkeeping and error handling."""

    capability: str

    def __init__(self) -> None:
        self._groups: dict[str, CgroupGroup] = {}

    # --- mechanism-specific hooks -------------------------------------------------------------

    @abstractmethod
    def _dirs_for(self, workload: str) -> tuple[Path, ...]: ...

    @abstractmethod
    def _origin_of(self, pid: int) -> tuple[Path, ...]: ...

    @abstractmethod
    def _mount_roots(self) -> tuple[Path, ...]:
        """The root cgroup of each hierarchy, in the order of a group's dirs."""

    @abstractmethod
    def _own_roots(self) -> tuple[Path, ...]:
        """The directories holding this throttler's cgroups (removed by `close` when empty)."""

    @abstractmethod
    def _write_cpu_limit(self, group: CgroupGroup, fraction: float | None) -> None: ...

    @abstractmethod
    def _write_frozen(self, group: CgroupGroup, frozen: bool) -> None: ...

    @abstractmethod
    def _is_frozen(self, group: CgroupGroup) -> bool: ...

    # --- the Throttler interface --------------------------------------------------------------

    async def attach(self, workload: str, pid: int) -> None:
        check_workload_id(workload)
        pids = procfs.processes_of(pid)
        if not pids:
            raise ThrottleError(f"process {pid} does not exist or has exited")
        group = self._groups.get(workload)
        if group is None:
            group = CgroupGroup(workload, self._dirs_for(workload))
            self._create_dirs(group)
            self._groups[workload] = group
        async with group.lock:
            if not group.origin:
                group.origin = self._origin_of(pid)
            for member in pids:
                try:
                    self._move(member, group.dirs)
                except ThrottleError:
                    # Another member of the group may exit meanwhile; only `pid` must make it.
                    if member == pid or procfs.is_alive(member):
                        raise

    async def set_cpu_fraction(self, workload: str, fraction: float | None) -> None:
        limit = check_cpu_fraction(fraction)
        group = self._live_group(workload)
        async with group.lock:
            self._write_cpu_limit(group, limit)

    async def freeze(self, workload: str) -> None:
        group = self._live_group(workload)
        async with group.lock:
            self._write_frozen(group, True)
            deadline = time.monotonic() + FREEZE_TIMEOUT_S
            while not self._is_frozen(group):
                if time.monotonic() > deadline:
                    raise ThrottleError(
                        f"workload {workload} did not freeze within {FREEZE_TIMEOUT_S} s"
                    )
                await asyncio.sleep(_POLL_S)

    async def thaw(self, workload: str) -> None:
        group = self._live_group(workload)
        async with group.lock:
            self._write_frozen(group, False)

    async def release(self, workload: str) -> None:
        group = self._groups.pop(workload, None)
        if group is None:
            return
        async with group.lock:
            if not group.dirs[0].is_dir():
                return  # removed behind our back; nothing left to undo
            self._write_frozen(group, False)
            self._write_cpu_limit(group, None)
            # Processes still running go back where they came from, so the cgroup can go.
            for pid in self._live_pids(group):
                try:
                    self._move(pid, self._return_dirs(group))
                except ThrottleError:
                    if procfs.is_alive(pid):
                        raise
            await self._remove_dirs(group)

    async def close(self) -> None:
        errors = []
        for workload in list(self._groups):
            try:
                await self.release(workload)
            except ThrottleError as exc:
                errors.append(exc.reason)
        # The roots go too when empty, so a stopped agent leaves no trace; busy ones stay.
        for root in self._own_roots():
            try:
                root.rmdir()
            except OSError:
                pass
        if errors:
            raise ThrottleError("; ".join(errors))

    # --- helpers ------------------------------------------------------------------------------

    def workloads(self) -> list[str]:
        return sorted(self._groups)

    def _live_group(self, workload: str) -> CgroupGroup:
        group = self._groups.get(workload)
        if group is None:
            raise ThrottleError(f"unknown workload {workload!r}: no process attached")
        if not self._live_pids(group):
            raise ThrottleError(f"workload {workload} has no live processes")
        return group

    def _live_pids(self, group: CgroupGroup) -> list[int]:
        return [pid for pid in read_pids(group.dirs[0] / "cgroup.procs") if procfs.is_alive(pid)]

    def _return_dirs(self, group: CgroupGroup) -> tuple[Path, ...]:
        # The origin may be gone, or be this very cgroup when a previous agent left the process
        # here; the hierarchy's root accepts processes in both v1 and v2.
        return tuple(
            origin if origin.is_dir() and origin != own else root
            for origin, own, root in zip(group.origin, group.dirs, self._mount_roots(), strict=True)
        )

    def _move(self, pid: int, dirs: tuple[Path, ...]) -> None:
        for directory in dirs:
            try:
                with open(directory / "cgroup.procs", "w") as f:
                    f.write(str(pid))
            except ProcessLookupError as exc:
                raise ThrottleError(f"process {pid} has exited") from exc
            except OSError as exc:
                raise ThrottleError(
                    f"moving process {pid} into {directory}: {exc.strerror}"
                ) from exc

    def _create_dirs(self, group: CgroupGroup) -> None:
        for directory in group.dirs:
            try:
                directory.mkdir(exist_ok=True)
            except OSError as exc:
                raise ThrottleError(f"creating cgroup {directory}: {exc.strerror}") from exc

    async def _remove_dirs(self, group: CgroupGroup) -> None:
        for directory in group.dirs:
            deadline = time.monotonic() + _RMDIR_TIMEOUT_S
            while True:
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise ThrottleError(f"removing cgroup {directory}: {exc.strerror}") from exc
                    await asyncio.sleep(_POLL_S * 4)
