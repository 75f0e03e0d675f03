"""Controller configuration: defaults < TOML file < AIWO_* environment < command-line flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdk._settings import layered_settings


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the setting."""


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    listen: str = "127.0.0.1:7070"
    etcd_endpoints: tuple[str, ...] = ("127.0.0.1:2379",)
    etcd_prefix: str = "/aiwo/v1"
    metrics_listen: str = "127.0.0.1:9464"  # "" disables the metrics endpoint
    controller_id: str = ""  # defaults to host:pid
    policy: str = "default"
    preemption: bool = True
    preemption_min_runtime_s: float = 60.0  # work younger than this is never preempted
    telemetry_interval_s: float = 1.0
    telemetry_window_s: float = 300.0  # per-GPU ring buffer length
    node_grace_s: float = 10.0  # no heartbeat for this long -> NotReady
    eviction_grace_s: float = 60.0  # NotReady for this long -> workloads rescheduled
    # After a leader change, no node is marked NotReady for this long: every agent must find
    # the new leader and be admitted (paced below) before silence means anything. 0 = sized
    # to the fleet: node_grace_s plus twice the time to admit every known node at
    # agent_admission_rps (10,000 nodes at 1,000/s: 30 s; a few nodes: node_grace_s).
    leader_grace_s: float = 0.0
    # Agent streams admitted per second (the reconnect storm after a failover is paced, the
    # refused told when to retry), and a node's own reconnects: a burst, then one per
    # agent_reconnect_interval_s (a node reconnecting in a tight loop is refused).
    agent_admission_rps: float = 1000.0
    agent_reconnect_burst: int = 5
    agent_reconnect_interval_s: float = 2.0
    # Telemetry reports a stream may send per telemetry_interval_s before the excess is
    # dropped; a stream that keeps flooding is ended (RESOURCE_EXHAUSTED).
    telemetry_burst_factor: float = 4.0
    leader_lease_s: int = 3
    optimize_interval_s: float = 1.0
    runtime_enabled: bool = True  # SLO guard, energy caps, model variants
    runtime_interval_s: float = 2.0  # the runtime loop's control period
    events_kept: int = 1000
    events_ttl_s: int = 3600
    command_timeout_s: float = 30.0
    # The process's heap is settled (full collection, then frozen) once loaded and then this
    # often, so no collection inside a decision traverses it (controlplane/app/gc_policy.py).
    # 0 = off.
    gc_settle_interval_s: float = 300.0
    log_format: str = "console"  # or "json"
    log_level: str = "info"
    ready_file: str = ""
    # Security (docs/security.md). Without tls_cert the controller serves plaintext and
    # logs a warning; with it, every caller must present a certificate signed by tls_ca.
    tls_cert: str = ""  # PEM: the controller's certificate (chain)
    tls_key: str = ""  # PEM: its private key
    tls_ca: str = ""  # PEM bundle that signs agent and client certificates
    tls_crl: str = ""  # PEM CRL(s) of tls_ca's CAs: revoked agent and client certificates
    auth: str = "none"  # "token": bearer tokens with roles; "none": every caller is admin
    tokens_file: str = ""  # hashed tokens accepted besides etcd's (the first admin's)
    # Revoked or expired tokens stay listed this long, then their records are deleted.
    token_retention_s: float = 7 * 24 * 3600.0
    # The link to etcd. Without etcd_ca it is plaintext (loopback and trusted networks only).
    etcd_ca: str = ""  # PEM bundle that signs the etcd members' certificates: TLS to etcd
    etcd_cert: str = ""  # PEM: the controller's client certificate, where etcd requires one
    etcd_key: str = ""  # its private key
    etcd_server_name: str = ""  # name to expect in the members' certificates (default: host)
    # Limits (docs/reliability.md). Every request and response; gRPC refuses a bigger one
    # with RESOURCE_EXHAUSTED before any handler runs.
    max_message_bytes: int = 4 * 1024 * 1024
    max_workloads_per_namespace: int = 10_000  # 0 = no limit
    # Per client: its token's id, else its address. Local clients all share 127.0.0.1 and a
    # follower's forwarded writes share its address, hence a roomy default. 0 = no limit.
    rate_limit_rps: float = 200.0
    rate_limit_burst: int = 400

    def validate(self) -> ControllerConfig:
        for name in ("listen",):
            _check_address(name, getattr(self, name))
        if self.metrics_listen:
            _check_address("metrics_listen", self.metrics_listen)
        if not self.etcd_endpoints:
            raise ConfigError("etcd_endpoints: at least one endpoint is needed")
        for endpoint in self.etcd_endpoints:
            _check_address("etcd_endpoints", endpoint)
        if not self.etcd_prefix.startswith("/") or self.etcd_prefix.endswith("/"):
            raise ConfigError("etcd_prefix: must start with '/' and not end with '/'")
        positive = (
            "telemetry_interval_s",
            "telemetry_window_s",
            "node_grace_s",
            "eviction_grace_s",
            "agent_admission_rps",
            "agent_reconnect_interval_s",
            "telemetry_burst_factor",
            "optimize_interval_s",
            "runtime_interval_s",
            "command_timeout_s",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: must be > 0, got {getattr(self, name)}")
        if self.leader_lease_s < 1:
            raise ConfigError("leader_lease_s: must be >= 1 second")
        if self.events_kept < 1:
            raise ConfigError("events_kept: must be >= 1")
        if self.log_format not in ("console", "json"):
            raise ConfigError("log_format: must be 'console' or 'json'")
        tls = {"tls_cert": self.tls_cert, "tls_key": self.tls_key, "tls_ca": self.tls_ca}
        if any(tls.values()) and not all(tls.values()):
            missing = ", ".join(name for name, value in tls.items() if not value)
            # tls_ca too: agents are identified by their certificates, so TLS is mutual.
            raise ConfigError(f"{missing}: TLS needs tls_cert, tls_key and tls_ca together")
        if self.tls_crl and not self.tls_cert:
            raise ConfigError("tls_crl: revocation needs TLS (tls_cert, tls_key and tls_ca)")
        if bool(self.etcd_cert) != bool(self.etcd_key):
            raise ConfigError("etcd_cert, etcd_key: a client certificate needs its key (set both)")
        if self.etcd_cert and not self.etcd_ca:
            raise ConfigError("etcd_ca: a client certificate for etcd needs TLS to etcd (etcd_ca)")
        if not 1024 <= self.max_message_bytes <= 1 << 30:
            raise ConfigError("max_message_bytes: must be between 1024 and 1073741824")
        for name in (
            "max_workloads_per_namespace",
            "rate_limit_rps",
            "token_retention_s",
            "gc_settle_interval_s",
            "leader_grace_s",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be >= 0 (0 = no limit)")
        if self.rate_limit_burst < 1:
            raise ConfigError("rate_limit_burst: must be >= 1")
        if self.agent_reconnect_burst < 1:
            raise ConfigError("agent_reconnect_burst: must be >= 1")
        if self.auth not in ("none", "token"):
            raise ConfigError(f"auth: must be 'none' or 'token', got {self.auth!r}")
        return self

    def leader_grace_for(self, nodes: int) -> float:
        """The leader-change window for a fleet of `nodes` (see leader_grace_s)."""
        if self.leader_grace_s > 0:
            return self.leader_grace_s
        return self.node_grace_s + 2 * nodes / self.agent_admission_rps


def _check_address(name: str, value: str) -> None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{name}: expected HOST:PORT, got {value!r}")


def load_config(
    toml_path: str | Path | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
    env_prefix: str = "AIWO_CONTROLLER_",
) -> ControllerConfig:
    """Merge the layers. Unknown keys in the file or flags are errors, named."""
    return layered_settings(
        ControllerConfig(), "controller", env_prefix, toml_path, environ, overrides, ConfigError
    ).validate()
