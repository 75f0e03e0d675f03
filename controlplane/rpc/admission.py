"""Admission of agent streams and of their telemetry: pure rules, the clock as an argument.

- The reconnect storm: after a failover every agent reconnects within seconds. Streams are
  admitted at `agent_admission_rps`; a refused agent is told when to retry (trailer
  aiwo-retry-after-ms) and comes back then, jittered, instead of all at once.
- A node that reconnects in a tight loop gets a burst, then one stream per interval.
- A stream that floods: reports beyond `telemetry_burst_factor` per telemetry interval are
  dropped (counted), and a stream that keeps on is ended (RESOURCE_EXHAUSTED).

Every simulated node in a bench shares 127.0.0.1, so none of this keys on addresses (the
per-client rate limit does that); it keys on the node, which its certificate names.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.app.config import ControllerConfig
from controlplane.rpc.ratelimit import RateLimiter

ALL = "*"
FLOOD_DROPS_BEFORE_END = 200  # reports dropped on one stream before it is ended


class StreamAdmission:
    def __init__(self, config: ControllerConfig) -> None:
        self._all = RateLimiter(config.agent_admission_rps, max(1, int(config.agent_admission_rps)))
        self._per_node = RateLimiter(
            1.0 / config.agent_reconnect_interval_s,
            config.agent_reconnect_burst,
            max_clients=1_000_000,
        )

    def admit(self, node: str, now: float) -> float:
        """0.0: admitted; else the seconds after which to try again. A node's own budget is
        spent first, so a tight loop does not use up the fleet's admissions."""
        wait_s = self._per_node.admit(node, now)
        if wait_s > 0:
            return wait_s
        return self._all.admit(ALL, now)


@dataclass(slots=True)
class TelemetryPacer:
    """One stream's telemetry budget: a token bucket of `burst` reports, refilled at
    `burst / interval_s` per second."""

    rate_per_s: float
    burst: float
    tokens: float
    updated: float
    dropped: int = 0

    @classmethod
    def of(cls, config: ControllerConfig, now: float) -> TelemetryPacer:
        burst = max(config.telemetry_burst_factor, 1.0)
        return cls(burst / config.telemetry_interval_s, burst, burst, now)

    def admit(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + max(now - self.updated, 0.0) * self.rate_per_s)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.dropped += 1
        return False

    @property
    def flooding(self) -> bool:
        return self.dropped > FLOOD_DROPS_BEFORE_END
