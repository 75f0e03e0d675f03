"""Whether a service replica is ready, from its health probes: pure, no sockets, no clock.

A replica becomes ready on its first answer of 200 and unready once it has failed
`failures_to_unready` probes in a row (one slow answer on a loaded node does not take it out
of the gateway's endpoints; a replica that exits is made unready at once by the prober, not
here). The async side (nodeagent.probe) feeds results in and sends the transitions out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Transition = Literal["ready", "unready"]

# Kubernetes' readiness probes default to failureThreshold 3 at periodSeconds 10; probing
# every second, two misses (about 2 s) is quicker and still rides out one slow answer.
DEFAULT_FAILURES_TO_UNREADY = 2


@dataclass
class ReplicaHealth:
    """One replica's probe history: the state the gateway should see."""

    port: int
    failures_to_unready: int = DEFAULT_FAILURES_TO_UNREADY
    ready: bool = False
    consecutive_failures: int = 0
    last_status: int | None = None  # the last HTTP status (None: no answer)

    def observe(self, status: int | None) -> Transition | None:
        """Record one probe's answer (an HTTP status, or None for no answer in time); return
        the transition it causes, if any."""
        self.last_status = status
        if status == 200:
            self.consecutive_failures = 0
            if not self.ready:
                self.ready = True
                return "ready"
            return None
        self.consecutive_failures += 1
        if self.ready and self.consecutive_failures >= self.failures_to_unready:
            self.ready = False
            return "unready"
        return None

    def gone(self) -> Transition | None:
        """The process exited (or is being stopped): unready now if it was ready."""
        if self.ready:
            self.ready = False
            return "unready"
        return None


@dataclass
class Readiness:
    """Every replica on the node, by workload id."""

    failures_to_unready: int = DEFAULT_FAILURES_TO_UNREADY
    replicas: dict[str, ReplicaHealth] = field(default_factory=dict)

    def watch(self, workload: str, port: int) -> None:
        """A (re)started replica: not ready until it answers, whatever the last one did."""
        self.replicas[workload] = ReplicaHealth(port, self.failures_to_unready)

    def observe(self, workload: str, status: int | None) -> Transition | None:
        health = self.replicas.get(workload)
        return health.observe(status) if health is not None else None

    def forget(self, workload: str) -> Transition | None:
        health = self.replicas.pop(workload, None)
        return health.gone() if health is not None else None

    def ready(self) -> dict[str, int]:
        """The ready replicas and their ports (re-announced to a controller on reconnect)."""
        return {w: h.port for w, h in sorted(self.replicas.items()) if h.ready}
