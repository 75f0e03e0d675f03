"""Choosing the throttling mechanism at agent start.

Each mechanism is tried in order (cgroup v2, cgroup v1, signals) by actually creating and
removing a probe cgroup, because "mounted" is not "writable": a container may see a read-only
/sys/fs/cgroup, and a hybrid host has a v2 mount whose cpu controller is bound to v1. Every
rejected mechanism comes with its reason, logged once and kept in the result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import structlog

from nodeagent.throttle.base import ThrottleError, Throttler
from nodeagent.throttle.cgroup_v1 import CgroupV1Throttler
from nodeagent.throttle.cgroup_v2 import CgroupV2Throttler
from nodeagent.throttle.signals import DEFAULT_PERIOD_S, SignalThrottler

log = structlog.get_logger("aiwo.throttle")

T = TypeVar("T")

MECHANISMS = ("cgroup-v2", "cgroup-v1", "signals")


@dataclass(frozen=True, slots=True)
class ThrottleConfig:
    # Where aiwo's v2 cgroups live. Its parent must be a cgroup v2 directory; with systemd, give
    # the agent's unit Delegate=yes and point this into the delegated subtree.
    cgroup_v2_root: Path = Path("/sys/fs/cgroup/aiwo")
    # The directory created under each v1 hierarchy (cpu, freezer) for aiwo's cgroups.
    cgroup_v1_group: str = "aiwo"
    mounts_file: Path = Path("/proc/self/mounts")
    signal_period_s: float = DEFAULT_PERIOD_S
    # Tried in this order; an operator may drop some (e.g. only ("signals",)).
    mechanisms: tuple[str, ...] = MECHANISMS


@dataclass(frozen=True, slots=True)
class Probe:
    mechanism: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Detection:
    throttler: Throttler
    probes: tuple[Probe, ...] = field(default_factory=tuple)


def detect(config: ThrottleConfig | None = None) -> Detection:
    config = config or ThrottleConfig()
    unknown = set(config.mechanisms) - set(MECHANISMS)
    if unknown:
        raise ValueError(f"unknown throttle mechanisms {sorted(unknown)}; known: {MECHANISMS}")
    probes: list[Probe] = []
    for mechanism in config.mechanisms:
        try:
            throttler = _build(mechanism, config)
        except ThrottleError as exc:
            probes.append(Probe(mechanism, False, exc.reason))
            continue
        probes.append(Probe(mechanism, True))
        return Detection(throttler, tuple(probes))
    # Signals never fail to build, so this only happens when the operator excluded them.
    raise ThrottleError(
        "no throttle mechanism usable: " + "; ".join(f"{p.mechanism}: {p.reason}" for p in probes)
    )


def detect_throttler(
    cgroup_root: Path | None = None, config: ThrottleConfig | None = None
) -> Throttler:
    """The best mechanism this host allows; `cgroup_root` overrides the v2 root of `config`."""
    config = config or ThrottleConfig()
    if cgroup_root is not None:
        config = dataclasses.replace(config, cgroup_v2_root=cgroup_root)
    detection = detect(config)
    for probe in detection.probes:
        if not probe.ok:
            log.info("throttle_mechanism_rejected", mechanism=probe.mechanism, reason=probe.reason)
    log.info("throttle_mechanism_selected", capability=detection.throttler.capability)
    return detection.throttler


def _build(mechanism: str, config: ThrottleConfig) -> Throttler:
    if mechanism == "cgroup-v2":
        prepare_cgroup_v2_root(config.cgroup_v2_root)
        return CgroupV2Throttler(config.cgroup_v2_root)
    if mechanism == "cgroup-v1":
        cpu_mount, freezer_mount = find_cgroup_v1_mounts(config.mounts_file)
        throttler = _call(
            lambda: CgroupV1Throttler(cpu_mount, freezer_mount, config.cgroup_v1_group),
            f"creating {config.cgroup_v1_group} under {cpu_mount} and {freezer_mount}",
        )
        try:
            _probe_child(throttler.cpu_root, "cpu.cfs_quota_us")
            _probe_child(throttler.freezer_root, "freezer.state")
        except ThrottleError:
            for root in (throttler.cpu_root, throttler.freezer_root):
                with contextlib.suppress(OSError):
                    root.rmdir()  # created just now for the probe; leave no trace
            raise
        return throttler
    return SignalThrottler(config.signal_period_s)


def prepare_cgroup_v2_root(root: Path) -> None:
    """Create `root` with the cpu controller enabled for its children, or say why not.

    Missing levels between the nearest existing cgroup and `root` (e.g. ``aiwo/<node>``) are
    created: a controller reaches a cgroup only if every ancestor enables it for its children,
    so each level gets ``+cpu`` in its ``cgroup.subtree_control`` on the way down. Levels created
    here are removed again if a later step fails.
    """
    missing: list[Path] = []
    existing = root
    while not existing.exists():
        missing.insert(0, existing)
        existing = existing.parent
    if not _is_cgroup2(existing):
        raise ThrottleError(f"{existing} is not a cgroup v2 directory")
    _ensure_cpu_available(existing)
    created: list[Path] = []
    try:
        for level in missing:
            _enable_cpu_for_children(level.parent)
            _call(level.mkdir, f"creating {level}")
            created.append(level)
        # Fails with EBUSY if processes sit in `root` itself (the no-internal-process rule).
        _enable_cpu_for_children(root)
        _probe_child(root, "cpu.max", "cgroup.freeze")
    except ThrottleError:
        for level in reversed(created):
            with contextlib.suppress(OSError):
                level.rmdir()
        raise


def _is_cgroup2(path: Path) -> bool:
    # Every cgroup2 directory, the root included, has cgroup.controllers; v1 and tmpfs do not.
    return (path / "cgroup.controllers").exists()


def _ensure_cpu_available(cgroup: Path) -> None:
    """Make the cpu controller available in `cgroup`, enabling it in its parent if needed."""
    available = (cgroup / "cgroup.controllers").read_text().split()
    if "cpu" in available:
        return
    parent = cgroup.parent
    if _is_cgroup2(parent) and "cpu" in (parent / "cgroup.controllers").read_text().split():
        _enable_cpu_for_children(parent)
        return
    raise ThrottleError(
        f"cpu controller not available in {cgroup} (has: {' '.join(available) or 'none'});"
        " it is bound to a cgroup v1 hierarchy or not delegated"
    )


def _enable_cpu_for_children(cgroup: Path) -> None:
    if "cpu" not in (cgroup / "cgroup.subtree_control").read_text().split():
        _write(cgroup / "cgroup.subtree_control", "+cpu")


def find_cgroup_v1_mounts(mounts_file: Path) -> tuple[Path, Path]:
    """The mount points of the v1 hierarchies carrying the cpu and freezer controllers."""
    cpu: Path | None = None
    freezer: Path | None = None
    try:
        lines = mounts_file.read_text().splitlines()
    except OSError as exc:
        raise ThrottleError(f"reading {mounts_file}: {exc.strerror}") from exc
    for line in lines:
        parts = line.split()
        if len(parts) < 4 or parts[2] != "cgroup":
            continue
        # Octal escapes in mount paths (proc(5)): a space is \040.
        mount_point = Path(parts[1].replace("\\040", " "))
        options = parts[3].split(",")
        if "cpu" in options:
            cpu = mount_point
        if "freezer" in options:
            freezer = mount_point
    missing = [name for name, found in (("cpu", cpu), ("freezer", freezer)) if found is None]
    if cpu is None or freezer is None:
        raise ThrottleError(f"no cgroup v1 hierarchy mounted for: {', '.join(missing)}")
    return cpu, freezer


def _probe_child(parent: Path, *required: str) -> None:
    """Create and remove a child cgroup, checking the control files the throttler needs."""
    probe = parent / f"aiwo-probe-{os.getpid()}"
    _call(lambda: probe.mkdir(exist_ok=True), f"creating {probe}")
    try:
        missing = [name for name in required if not (probe / name).exists()]
        if missing:
            raise ThrottleError(f"{', '.join(missing)} missing in a child of {parent}")
    finally:
        _call(lambda: probe.rmdir(), f"removing {probe}")


def _write(path: Path, value: str) -> None:
    def write() -> None:
        with open(path, "w") as f:
            f.write(value)

    _call(write, f"writing {value!r} to {path}")


def _call(action: Callable[[], T], what: str) -> T:
    try:
        return action()
    except OSError as exc:
        raise ThrottleError(f"{what}: {exc.strerror}") from exc
