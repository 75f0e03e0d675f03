"""Throttling with cgroup v1: the cpu controller's CFS quota and the freezer controller.

Each workload gets a cgroup in both hierarchies: ``<cpu mount>/<group>/<ns>.<name>`` and
``<freezer mount>/<group>/<ns>.<name>``; the two are kept in step.
"""

from __future__ import annotations

from pathlib import Path

from nodeagent.throttle.base import CAPABILITY_CGROUP_V1
from nodeagent.throttle.cgroup_common import (
    CFS_PERIOD_US,
    CgroupGroup,
    CgroupThrottler,
    dir_name,
    write_file,
)


class CgroupV1Throttler(CgroupThrottler):
    capability = CAPABILITY_CGROUP_V1

    def __init__(self, cpu_mount: Path, freezer_mount: Path, group: str = "aiwo") -> None:
        """`cpu_mount`/`freezer_mount`: where those hierarchies are mounted (see detect.py);
        `group`: the directory under each that holds aiwo's cgroups (created if missing)."""
        super().__init__()
        self.cpu_mount = cpu_mount
        self.freezer_mount = freezer_mount
        self.cpu_root = cpu_mount / group
        self.freezer_root = freezer_mount / group
        for root in (self.cpu_root, self.freezer_root):
            root.mkdir(exist_ok=True)

    def _dirs_for(self, workload: str) -> tuple[Path, ...]:
        name = dir_name(workload)
        return (self.cpu_root / name, self.freezer_root / name)

    def _own_roots(self) -> tuple[Path, ...]:
        return (self.cpu_root, self.freezer_root)

    def _mount_roots(self) -> tuple[Path, ...]:
        return (self.cpu_mount, self.freezer_mount)

    def _origin_of(self, pid: int) -> tuple[Path, ...]:
        # /proc/PID/cgroup lines are "id:controller[,controller]:/path" per hierarchy.
        paths: dict[str, str] = {}
        try:
            text = Path(f"/proc/{pid}/cgroup").read_text()
        except FileNotFoundError:
            text = ""
        for line in text.splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                paths[controller] = path.lstrip("/")
        return (
            self.cpu_mount / paths.get("cpu", ""),
            self.freezer_mount / paths.get("freezer", ""),
        )

    def _write_cpu_limit(self, group: CgroupGroup, fraction: float | None) -> None:
        cpu_dir = group.dirs[0]
        if fraction is None:
            write_file(cpu_dir / "cpu.cfs_quota_us", "-1")
            return
        # The period first: the kernel checks the quota against the current period.
        write_file(cpu_dir / "cpu.cfs_period_us", str(CFS_PERIOD_US))
        write_file(cpu_dir / "cpu.cfs_quota_us", str(round(fraction * CFS_PERIOD_US)))

    def _write_frozen(self, group: CgroupGroup, frozen: bool) -> None:
        write_file(group.dirs[1] / "freezer.state", "FROZEN" if frozen else "THAWED")

    def _is_frozen(self, group: CgroupGroup) -> bool:
        # FREEZING while some task has not yet stopped; FROZEN once all have.
        return (group.dirs[1] / "freezer.state").read_text().strip() == "FROZEN"
