"""One local cluster per state directory: STATE_DIR/cluster.lock, held for its lifetime.

`aiwo up` takes the lock before it starts or reaps anything, and writes its pid in the
file; a second `aiwo up` on the same directory finds it held and refuses, touching
nothing. The lock is an flock on an open file, so the kernel releases it when the holder
exits for any reason (SIGKILL included): a lock that is not held means whatever the
directory still records is stale and may be cleaned up. `aiwo down` and `aiwo reset`
read the same file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = "cluster.lock"


class ClusterLocked(Exception):
    """Another live process holds the state directory's lock."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        self.state_dir = state_dir
        self.pid = pid
        who = f" (pid {pid})" if pid else ""
        super().__init__(
            f"a cluster is already running in {state_dir}{who}; stop it or use --state-dir"
        )


def lock_path(state_dir: Path) -> Path:
    return state_dir / LOCK_FILE


def holder_pid(state_dir: Path) -> int | None:
    """The pid written in the lock file, when the lock is held; None when it is free."""
    path = lock_path(state_dir)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(path) or -1  # held; -1: by a holder that has not written yet
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip() or "0") or None
    return None


class ClusterLock:
    """The exclusive lock on a state directory; `acquire` raises ClusterLocked when held."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        path = lock_path(self.state_dir)
        # O_CLOEXEC (Python's default): children must not inherit the lock, else a killed
        # `aiwo up` would leave it held by its orphans and the stale state uncleanable.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ClusterLocked(self.state_dir, _read_pid(path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing the descriptor drops the flock
        self._fd = None
