"""What a managed workload is to the supervisor: its launch spec, the events its process
produces, the errors a request to run it can end in, and the replica watcher it reports to.

Types only: nodeagent.supervisor runs the processes, nodeagent.process_group holds the
operating-system side (sessions, process groups, log files).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from nodeagent.gpu.base import ActuationError

# "always": restart on any exit the agent did not ask for (service replicas: a server that
# exits, even with 0, is not done).
RestartPolicy = Literal["never", "on-failure", "always"]
EventKind = Literal["started", "exited", "restarted", "start_failed", "ready", "unready"]
DEFAULT_HEALTH_PATH = "/healthz"


@dataclass(frozen=True)
class LaunchSpec:
    """How to run a managed workload (the wire's LaunchSpec plus restart tuning)."""

    command: tuple[str, ...]  # argv; argv[0] is looked up in the child's PATH
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: Path | str | None = None  # None: the agent's working directory
    restart_policy: RestartPolicy = "never"
    max_restarts: int = 5  # restarts in a row before giving up
    backoff_initial_s: float = 1.0  # delay before the first restart, doubled each time
    backoff_max_s: float = 60.0
    # A run at least this long counts as healthy: the count and the backoff start over, so a
    # service that fails once a day is not given up on after a week.
    backoff_reset_after_s: float = 600.0
    # A service replica: the supervisor gives it a free port (AIWO_PORT) and, with a prober,
    # GETs health_path on it to say when it is ready.
    serve: bool = False
    health_path: str = DEFAULT_HEALTH_PATH

    def __post_init__(self) -> None:
        # Callers build specs from wire messages (lists, plain strings); store them immutable.
        object.__setattr__(self, "command", tuple(self.command))
        object.__setattr__(self, "env", dict(self.env))
        if not self.command or not self.command[0]:
            raise ValueError("command must be a non-empty argv")
        if not all(isinstance(arg, str) for arg in self.command):
            raise ValueError("command arguments must be strings")
        if self.restart_policy not in ("never", "on-failure", "always"):
            raise ValueError(f"restart_policy {self.restart_policy!r}: never, on-failure or always")
        path = self.health_path or DEFAULT_HEALTH_PATH
        object.__setattr__(self, "health_path", path)
        # It goes into a request line: no spaces or control characters, an absolute path.
        if not path.startswith("/") or any(c.isspace() or ord(c) < 32 for c in path):
            raise ValueError(f"health_path {path!r}: an absolute path without spaces")
        if self.max_restarts < 0:
            raise ValueError("max_restarts must be >= 0")
        for name in ("backoff_initial_s", "backoff_max_s", "backoff_reset_after_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0")

    def backoff_s(self, restarts_so_far: int) -> float:
        return min(self.backoff_initial_s * 2.0**restarts_so_far, self.backoff_max_s)


@dataclass(frozen=True, slots=True)
class ProcessEvent:
    workload: str  # "namespace/name"
    kind: EventKind
    pid: int = 0
    exit_code: int | None = None  # negative signal number when killed, as in Python
    signal: str = ""  # e.g. "SIGKILL" when killed by a signal
    detail: str = ""
    time_unix: float = 0.0
    # What an exit means for the workload, so the controller need not parse `detail`:
    # "succeeded", "failed" (no restart follows), "restarting", "stopped" (by the agent).
    # start_failed is "failed"; "" for started/restarted.
    outcome: str = ""
    port: int = 0  # a service replica's AIWO_PORT (started, restarted, ready, unready)


class ReplicaWatcher(Protocol):
    """Probes service replicas (nodeagent.probe.ReplicaProber)."""

    def watch(self, workload: str, pid: int, port: int, health_path: str) -> None: ...

    def forget(self, workload: str) -> None: ...


class SupervisorError(ActuationError):
    """A request the supervisor cannot carry out; `reason` goes into the failed ack."""


class LaunchError(SupervisorError):
    """The process could not be started (missing executable, bad working directory...)."""


class UnknownWorkloadError(SupervisorError):
    pass
