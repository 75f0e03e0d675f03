"""The throttling interface shared by every mechanism, and the checks they all apply.

A throttler acts on *workloads* (``"namespace/name"``), not on single processes: each workload
owns one group of processes (a cgroup, or a set of process groups for signals), so that whatever
a workload forks is throttled with it.
"""

from __future__ import annotations

import math
import os
import re
from typing import Final, Protocol

from nodeagent.gpu.base import ActuationError

CAPABILITY_CGROUP_V2: Final = "throttle:cgroup-v2"
CAPABILITY_CGROUP_V1: Final = "throttle:cgroup-v1"
CAPABILITY_SIGNALS: Final = "throttle:signals"

# The CFS bandwidth controller refuses quotas below 1 ms (cpu.cfs_quota_us, cpu.max); with the
# 100 ms period used everywhere here that is 1 % of a core. The signal mechanism keeps the same
# floor so that a command means the same thing on every node.
MIN_CPU_FRACTION: Final = 0.01

# Workload ids are "namespace/name" with names [a-z0-9-]{1,63} (DESIGN.md, Security). Checking
# here keeps a workload id from ever naming a path outside the throttler's own cgroup tree.
_NAME = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_WORKLOAD_RE: Final = re.compile(rf"{_NAME}/{_NAME}")


class ThrottleError(ActuationError):
    """A throttling request could not be carried out; `reason` goes into the failed ack.

    An ActuationError, so the agent's executor acks it as failed with the reason like any other
    actuator refusal.
    """


class Throttler(Protocol):
    """Slows down or pauses the processes of managed workloads.

    All methods are coroutines so that a mechanism may wait for the kernel (a freeze completes
    asynchronously) without blocking the agent's event loop.
    """

    @property
    def capability(self) -> str:
        """The capability string reported with the node, e.g. ``"throttle:cgroup-v1"``."""
        ...

    async def attach(self, workload: str, pid: int) -> None:
        """Put process `pid` (with its process group when it leads one) under `workload`."""
        ...

    async def set_cpu_fraction(self, workload: str, fraction: float | None) -> None:
        """Limit the workload to `fraction` of one core; ``None`` or >= 1.0 removes the limit."""
        ...

    async def freeze(self, workload: str) -> None:
        """Stop the workload's processes from running at all until `thaw`."""
        ...

    async def thaw(self, workload: str) -> None:
        """Undo `freeze`; a CPU limit set before the freeze applies again."""
        ...

    async def release(self, workload: str) -> None:
        """Stop managing the workload: its processes run unthrottled. No-op if unknown."""
        ...

    async def close(self) -> None:
        """Release every workload; nothing stays frozen or stopped after this."""
        ...


def is_workload_id(workload: str) -> bool:
    return _WORKLOAD_RE.fullmatch(workload) is not None


def check_workload_id(workload: str) -> str:
    if not is_workload_id(workload):
        raise ThrottleError(
            f"invalid workload id {workload!r}: expected namespace/name with [a-z0-9-]"
        )
    return workload


def usable_cores() -> int:
    """CPUs this agent may run on (its affinity mask), the ceiling for a CPU fraction."""
    return len(os.sched_getaffinity(0))


def check_cpu_fraction(fraction: float | None) -> float | None:
    """Validate a requested fraction; returns the limit to apply, ``None`` for unthrottled.

    The wire (ThrottleWorkload.cpu_fraction) defines 1 as unthrottled, so any value >= 1.0 lifts
    the limit on every mechanism: the same command means the same on every node. Values above the
    cores this agent can use are rejected as a likely unit mistake (percent instead of fraction).
    """
    if fraction is None:
        return None
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        raise ThrottleError(f"cpu fraction must be a number, got {type(fraction).__name__}")
    if not math.isfinite(fraction):
        raise ThrottleError(f"cpu fraction must be finite, got {fraction}")
    if fraction < MIN_CPU_FRACTION:
        raise ThrottleError(
            f"cpu fraction {fraction} below the minimum {MIN_CPU_FRACTION} of one core"
        )
    cores = usable_cores()
    if fraction > cores:
        raise ThrottleError(f"cpu fraction {fraction} exceeds the {cores} cores of this node")
    if fraction >= 1.0:
        return None
    return float(fraction)
