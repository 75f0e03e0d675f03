"""Throttling with cgroup v2: ``cpu.max`` for the quota and ``cgroup.freeze`` for pausing.

Each workload gets ``<root>/<ns>.<name>``. The root must have the cpu controller enabled for its
children (``+cpu`` in its ``cgroup.subtree_control``); detect.py prepares that. Without it the
throttler still freezes, but refuses CPU limits with that reason.
"""

from __future__ import annotations

from pathlib import Path

from nodeagent.throttle.base import CAPABILITY_CGROUP_V2, ThrottleError
from nodeagent.throttle.cgroup_common import (
    CFS_PERIOD_US,
    CgroupGroup,
    CgroupThrottler,
    dir_name,
    write_file,
)


def cgroup2_mount_of(path: Path) -> Path:
    """The root of the cgroup2 hierarchy that contains `path`.

    Every cgroup2 directory, the root included, has ``cgroup.controllers``; the mount's parent
    directory does not. So the topmost ancestor that has it is the mount.
    """
    mount = path
    for ancestor in path.parents:
        if not (ancestor / "cgroup.controllers").exists():
            break
        mount = ancestor
    return mount


class CgroupV2Throttler(CgroupThrottler):
    capability = CAPABILITY_CGROUP_V2

    def __init__(self, root: Path) -> None:
        """`root`: an existing cgroup2 directory that holds aiwo's cgroups."""
        super().__init__()
        if not (root / "cgroup.controllers").exists():
            raise ThrottleError(f"{root} is not a cgroup v2 directory")
        self.root = root
        self.mount = cgroup2_mount_of(root)

    def _dirs_for(self, workload: str) -> tuple[Path, ...]:
        return (self.root / dir_name(workload),)

    def _own_roots(self) -> tuple[Path, ...]:
        return (self.root,)

    def _mount_roots(self) -> tuple[Path, ...]:
        return (self.mount,)

    def _origin_of(self, pid: int) -> tuple[Path, ...]:
        # The unified hierarchy's line is "0::/path".
        try:
            text = Path(f"/proc/{pid}/cgroup").read_text()
        except FileNotFoundError:
            text = ""
        for line in text.splitlines():
            if line.startswith("0::"):
                return (self.mount / line[3:].lstrip("/"),)
        return (self.mount,)

    def _write_cpu_limit(self, group: CgroupGroup, fraction: float | None) -> None:
        cpu_max = group.dirs[0] / "cpu.max"
        if not cpu_max.exists():
            if fraction is None:
                return  # no controller, so no limit to lift
            raise ThrottleError(
                f"{cpu_max} missing: the cpu controller is not enabled for {self.root}"
            )
        write_file(cpu_max, cpu_max_value(fraction))

    def _write_frozen(self, group: CgroupGroup, frozen: bool) -> None:
        write_file(group.dirs[0] / "cgroup.freeze", "1" if frozen else "0")

    def _is_frozen(self, group: CgroupGroup) -> bool:
        # cgroup.events says "frozen 1" once every task has stopped (Linux >= 5.2).
        for line in (group.dirs[0] / "cgroup.events").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "frozen":
                return value.strip() == "1"
        return False


def cpu_max_value(fraction: float | None) -> str:
    """The ``cpu.max`` line: "$QUOTA $PERIOD" in microseconds, or "max $PERIOD" for no limit."""
    if fraction is None:
        return f"max {CFS_PERIOD_US}"
    return f"{round(fraction * CFS_PERIOD_US)} {CFS_PERIOD_US}"
