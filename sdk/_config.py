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
class TlsConfig:
    """How to reach a controller that serves TLS (see docs/security.md).

    Unset in `ClientConfig`, it comes from $AIWO_TLS_CA / $AIWO_TLS_CERT / $AIWO_TLS_KEY,
    else from the cluster `aiwo up --secure` recorded (for that cluster's address only).
    """

    ca_file: str = ""  # PEM bundle that signed the controller's certificate; "" = system roots
    cert_file: str = ""  # client certificate, for a controller that requires one (mutual TLS)
    key_file: str = ""  # its private key
    server_name: str = ""  # name to check in the controller's certificate, if not the host


@dataclass(frozen=True)
class ClientConfig:
    """Options for `Client` and `AdminClient`."""

    namespace: str = "default"  # namespace used when a call does not name one
    connect_timeout_s: float = 5.0  # how long `connect` waits for the controller
    rpc_timeout_s: float = 10.0  # deadline of each unary call
    # Bearer token, sent as `authorization` metadata; None: $AIWO_TOKEN, else the file named
    # by $AIWO_TOKEN_FILE, else the token `aiwo up --secure` recorded for its cluster.
    token: str | None = None
    tls: TlsConfig | None = None  # None: from the environment or `aiwo up`; else plaintext
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    # Messages an Attach session holds while disconnected; the oldest metrics report is
    # dropped first, because a stale latency sample is worth less than a fresh one.
    attach_buffer: int = 120
    placement_poll_s: float = 0.25  # how often `wait_placed` asks the controller
