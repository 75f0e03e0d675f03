"""The operating-system side of a managed workload: its environment, its log files, and its
process group (each workload leads a session of its own, so a stop reaches everything it
forked and a signal to it never reaches the agent).

Plain functions over pids and paths; nodeagent.supervisor decides when to call them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal as signals
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import structlog

from nodeagent.launch import LaunchError, LaunchSpec
from nodeagent.throttle import procfs

log = structlog.get_logger("aiwo.agent.supervisor")

# How often a stop checks whether the process group is gone.
_POLL_S = 0.05
# After SIGKILL the kernel needs a moment to tear the processes down; this bounds the wait.
_KILL_WAIT_S = 5.0


def default_base_env(environ: Mapping[str, str], executable: str) -> dict[str, str]:
    """The agent's environment without its AIWO_* settings (they may carry the agent's
    credentials), with the agent's own interpreter's directory first on PATH: a launch
    command's bare `python` / `python3` is then the Python aiwo runs in, which has the
    SDK, as `aiwo run NAME -- python -m sdk.examples.counter` expects. A launch spec that
    sets PATH (or names an interpreter by its path) decides for itself."""
    env = {k: v for k, v in environ.items() if not k.startswith("AIWO_")}
    own_bin = str(Path(executable).parent)  # not resolved: a venv's bin is the point
    rest = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and p != own_bin]
    env["PATH"] = os.pathsep.join([own_bin, *rest])
    return env


async def terminate_group(pgid: int, grace_s: float) -> None:
    """SIGTERM the group, SIGKILL it after `grace_s`, return once no member is left."""
    if not procfs.group_alive(pgid):
        return
    killpg(pgid, signals.SIGTERM)
    if await group_gone(pgid, grace_s):
        return
    killpg(pgid, signals.SIGKILL)
    if not await group_gone(pgid, _KILL_WAIT_S):
        log.error("process_group_survived_sigkill", pgid=pgid)


def owned_groups(marker: bytes) -> set[int]:
    """Process groups of live processes whose environment carries `marker`."""
    groups: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                groups.add(os.getpgid(int(entry.name)))
        except (OSError, ProcessLookupError):
            continue
    return groups


async def group_gone(pgid: int, timeout_s: float) -> bool:
    """Poll until the process group has no live member; False on timeout."""
    deadline = time.monotonic() + timeout_s
    # Polling /proc: grandchildren are not our children, so there is nothing to wait on.
    while procfs.group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL_S)
    return True


def open_logs(spec: LaunchSpec, out_path: Path, err_path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """Check the working directory and open the log files for appending (both or neither)."""
    if spec.working_dir is not None and not Path(spec.working_dir).is_dir():
        raise LaunchError(f"working directory {spec.working_dir} does not exist")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(out_path, "ab")
    except OSError as exc:
        raise LaunchError(f"log file {out_path}: {exc.strerror}") from exc
    try:
        return out, open(err_path, "ab")
    except OSError as exc:
        out.close()
        raise LaunchError(f"log file {err_path}: {exc.strerror}") from exc


def killpg(pgid: int, sig: signals.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def launch_failure(exc: OSError, spec: LaunchSpec) -> str:
    if spec.working_dir is not None and exc.filename == str(spec.working_dir):
        return f"working directory {spec.working_dir}: {exc.strerror}"
    return f"executable {spec.command[0]!r}: {exc.strerror}"
