"""Client options, grouped in frozen dataclasses (documented field by field)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReconnectPolicy:
    """How an Attach stream comes back after the controller goes away.

    Delays grow from `initial_backoff_s` by `multiplier` up to `max_backoff_s`, each with
    ±`jitter` (a fraction) so that many applications do not reconnect in lockstep after a
    controller restart.
    """

    initial_backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2
    max_attempts: int | None = None  # consecutive failed attempts; None = keep trying

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait before reconnect attempt `attempt` (1-based)."""
        base = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier ** (attempt - 1))
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, base * (1.0 + spread))


@dataclass(frozen=True)
class ClientConfig:
    """Options for `Client` and `AdminClient`."""

    namespace: str = "default"  # namespace used when a call does not name one
    connect_timeout_s: float = 5.0  # how long `connect` waits for the controller
    rpc_timeout_s: float = 10.0  # deadline of each unary call
    token: str | None = None  # bearer token, sent as `authorization` metadata
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    # Messages an Attach session holds while disconnected; the oldest metrics report is
    # dropped first, because a stale latency sample is worth less than a fresh one.
    attach_buffer: int = 120
    placement_poll_s: float = 0.25  # how often `wait_placed` asks the controller
