"""The GPU clock locks this agent set and has not reset, remembered across its restarts.

NVML can set a lock (nvmlDeviceSetGpuLockedClocks) but not read one back, and a lock
outlives the agent's process (it lasts until reset or a driver reload). Reported in
telemetry, so that a leader that did not set a lock (after a failover, or after this agent
restarted) still sees it and can undo it. A lock set by someone else is not known here.
"""

from __future__ import annotations

import json
from pathlib import Path

import structlog

log = structlog.get_logger("aiwo.agent.clock_locks")


class ClockLocks:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._locks: dict[int, tuple[int, int]] = self._load()

    def set(self, index: int, min_mhz: int, max_mhz: int) -> None:
        self._locks[index] = (min_mhz, max_mhz)
        self._save()

    def clear(self, index: int) -> None:
        if self._locks.pop(index, None) is not None:
            self._save()

    def items(self) -> list[tuple[int, tuple[int, int]]]:
        return sorted(self._locks.items())

    def _load(self) -> dict[int, tuple[int, int]]:
        if self.path is None:
            return {}
        try:
            raw = json.loads(self.path.read_text())
            return {int(k): (int(v[0]), int(v[1])) for k, v in raw.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, IndexError) as exc:
            # Unknown locks are only left as they are; the agent keeps running.
            log.warning("clock_locks_unreadable", path=str(self.path), error=str(exc))
            return {}

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({str(k): list(v) for k, v in sorted(self._locks.items())}))
        tmp.replace(self.path)
