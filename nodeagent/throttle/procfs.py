"""Reading processes from /proc: state, process group and CPU time.

Zombies are treated as gone everywhere: where PID 1 does not reap orphans (some container and
micro-VM inits do not), a dead grandchild stays a zombie in its process group forever, and a
"still alive?" check that counted it would never finish.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcStat:
    pid: int
    state: str  # R running, S sleeping, T stopped, Z zombie, ... (proc(5))
    ppid: int
    pgid: int
    sid: int
    cpu_time_s: float  # user + system time of the whole thread group


def read_stat(pid: int) -> ProcStat | None:
    """The process's /proc/PID/stat, or None when it no longer exists."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may contain spaces and parentheses; it ends at the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    # Fields from 3 on, numbered as in proc(5): state(3) ppid(4) pgrp(5) session(6) ...
    # utime(14) stime(15), in clock ticks.
    return ProcStat(
        pid=pid,
        state=fields[0],
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        cpu_time_s=(int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S,
    )


def is_alive(pid: int) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat.state not in ("Z", "X")


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `pgid`."""
    return members_of_groups({pgid})


def members_of_groups(pgids: set[int]) -> list[int]:
    """Live (non-zombie) processes in any of the process groups `pgids`, in one /proc scan."""
    members = []
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        stat = read_stat(int(entry.name))
        if stat is not None and stat.pgid in pgids and stat.state not in ("Z", "X"):
            members.append(stat.pid)
    return members


def group_alive(pgid: int) -> bool:
    return bool(group_members(pgid))


def processes_of(pid: int) -> list[int]:
    """`pid` plus, when it leads a process group, the rest of that group.

    Attaching moves these together, so that a child forked in the instant between the launch and
    the attach is throttled with its parent.
    """
    stat = read_stat(pid)
    if stat is None or stat.state in ("Z", "X"):
        return []
    if stat.pgid != pid:
        return [pid]
    members = group_members(pid)
    return sorted(set(members) | {pid})


class GroupCpuMeter:
    """CPU time used by the members of some process groups, counted from when each was seen.

    Members are found by scanning /proc at most every `rescan_s` (a scan reads every process's
    stat file, a few milliseconds); in between only the known members are read. A member that
    exits takes its CPU time with it, so usage is summed per process as positive deltas.
    """

    def __init__(self, rescan_s: float = 1.0) -> None:
        self.rescan_s = rescan_s
        self._last: dict[int, float] = {}  # pid -> cpu_time_s when last read
        self._members: set[int] = set()
        self._scanned_at = -math.inf

    def used_since_last_s(self, pgids: set[int], now: float) -> float:
        """CPU-seconds the groups used since the previous call (0 on the first)."""
        if now - self._scanned_at >= self.rescan_s:
            self._members = set(members_of_groups(pgids))
            self._scanned_at = now
        used = 0.0
        current: dict[int, float] = {}
        for pid in self._members:
            stat = read_stat(pid)
            if stat is None or stat.pgid not in pgids:
                continue
            current[pid] = stat.cpu_time_s
            if pid in self._last:
                used += max(0.0, stat.cpu_time_s - self._last[pid])
        self._last = current
        return used
