"""Gateway configuration: defaults < TOML file ([gateway]) < AIWO_GATEWAY_* env < flags."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sdk._settings import layered_settings
from sdk._target import read_cluster_file, resolve_target
from sdk._tls import ENV_TLS


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    listen: str = "127.0.0.1:8080"  # HTTP: /s/NAMESPACE/NAME/PATH
    # The controller, HOST:PORT[,HOST:PORT...]; "" = $AIWO_CONTROLLER, else the cluster
    # `aiwo up` recorded, else 127.0.0.1:7070 (as the CLI finds it).
    controller: str = ""
    # This gateway's name in the controller's logs and drain accounting (default: the name
    # its certificate carries, aiwo://gateway/NAME, else the host name). With a gateway
    # certificate the controller accepts no other name.
    name: str = ""
    metrics_listen: str = "127.0.0.1:9108"  # Prometheus /metrics; "" = off
    # Scale from zero: requests for a service with no ready replica wait here, at most
    # queue_size per service and queue_timeout_s each, then get 503 with Retry-After.
    queue_size: int = 256
    queue_timeout_s: float = 30.0
    max_body_bytes: int = 16 * 1024 * 1024  # request bodies above: 413
    # A replica whose connection broke mid-request is out of rotation this long.
    eject_s: float = 10.0
    report_interval_s: float = 1.0
    upstream_connect_timeout_s: float = 5.0
    # Longest silence from a replica once a request is sent (a slow first token included).
    upstream_read_timeout_s: float = 600.0
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    log_format: str = "console"
    log_level: str = "info"
    # Mutual TLS to the controller (docs/security.md): the gateway's own certificate (URI
    # aiwo://gateway/NAME: `aiwo certs issue --gateway NAME`), its key, and the CA that
    # signed the controller's. Empty tls_cert: the environment ($AIWO_TLS_*), else the
    # gateway certificate of the cluster `aiwo up --secure` recorded, else plaintext.
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    tls_server_name: str = ""

    def resolved(self) -> GatewayConfig:
        config = replace(self, name=self.name or _certificate_name(self.tls_cert) or _host())
        for setting in ("listen", "metrics_listen"):
            value = getattr(config, setting)
            if (value or setting == "listen") and not is_host_port(value):
                raise ConfigError(f"{setting}: expected HOST:PORT, got {value!r}")
        endpoints = [e.strip() for e in config.controller.split(",") if e.strip()]
        if config.controller and (not endpoints or not all(map(is_host_port, endpoints))):
            raise ConfigError(
                f"controller: expected HOST:PORT[,HOST:PORT...], got {config.controller!r}"
            )
        if not 0 <= config.queue_size <= 1_000_000:
            raise ConfigError(f"queue_size: must be 0..1000000, got {config.queue_size}")
        positive = (
            "queue_timeout_s",
            "eject_s",
            "report_interval_s",
            "upstream_connect_timeout_s",
            "upstream_read_timeout_s",
            "backoff_initial_s",
            "backoff_max_s",
        )
        for setting in positive:
            value = getattr(config, setting)
            if not (value > 0 and value < float("inf")):
                raise ConfigError(f"{setting}: must be a positive number, got {value}")
        if config.max_body_bytes <= 0:
            raise ConfigError(f"max_body_bytes: must be > 0, got {config.max_body_bytes}")
        if bool(config.tls_cert) != bool(config.tls_key):
            raise ConfigError("tls_cert, tls_key: a certificate needs its key (set both)")
        if config.log_format not in ("console", "json"):
            raise ConfigError(f"log_format: 'console' or 'json', got {config.log_format!r}")
        return config


def _host() -> str:
    return socket.gethostname().split(".")[0].lower()


def _certificate_name(cert_file: str) -> str:
    """The gateway name a certificate carries; "" when it names none (or is unreadable:
    the link reports that when it opens the channel)."""
    if not cert_file:
        return ""
    from sdk._pki import gateway_names  # cryptography: only with a certificate

    try:
        names = gateway_names(Path(cert_file).expanduser().read_bytes())
    except (OSError, ValueError):
        return ""
    return names[0] if len(names) == 1 else ""


def is_host_port(endpoint: str) -> bool:
    host, sep, port = endpoint.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 <= int(port) < 65536)


def split_host_port(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


def load_config(
    toml_path: str | Path | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> GatewayConfig:
    env = os.environ if environ is None else environ
    config = layered_settings(
        GatewayConfig(), "gateway", "AIWO_GATEWAY_", toml_path, env, overrides, ConfigError
    )
    return _recorded_identity(config, env).resolved()


def _recorded_identity(config: GatewayConfig, env: Mapping[str, str]) -> GatewayConfig:
    """No certificate configured and none in $AIWO_TLS_*: the gateway certificate of the
    cluster `aiwo up --secure` recorded for this controller, if any — never the CLI's
    certificate and admin token recorded beside it (the SDK's fallback would take those)."""
    if config.tls_cert or any(env.get(variable) for variable in ENV_TLS.values()):
        return config
    cluster = read_cluster_file(environ=env) or {}
    recorded = cluster.get("credentials")
    if not isinstance(recorded, dict) or not recorded.get("gateway_cert"):
        return config
    replicas = cluster.get("controllers")
    known = {cluster.get("controller"), *(replicas if isinstance(replicas, list) else ())}
    wanted = [e.strip() for e in config.controller.split(",") if e.strip()]
    if not set(wanted or [resolve_target(None, env)]) <= known:
        return config
    return replace(
        config,
        tls_cert=str(recorded["gateway_cert"]),
        tls_key=str(recorded.get("gateway_key") or ""),
        tls_ca=config.tls_ca or str(recorded.get("ca") or ""),
        tls_server_name=config.tls_server_name or str(recorded.get("server_name") or ""),
    )
