"""The controller's listening port: mutual TLS when configured, plaintext (loudly) when not.

One port, one policy. grpc's Python API can require a client certificate or not ask for
one at all — it cannot ask and accept an answer of none — so with TLS every caller shows
a certificate signed by the cluster CA: agents one naming their node, the CLI and
applications a client certificate (and a token on top).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import structlog

from controlplane.app.config import ControllerConfig

log = structlog.get_logger("aiwo.controller")


def tls_enabled(config: ControllerConfig) -> bool:
    return bool(config.tls_cert)


def _read(name: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise OSError(f"{name} {path}: {exc.strerror or exc}") from None


def server_credentials(config: ControllerConfig) -> grpc.ServerCredentials:
    """Files are read now; a restart (or a new replica) picks up rotated certificates."""
    key = _read("tls_key", config.tls_key)
    cert = _read("tls_cert", config.tls_cert)
    ca = _read("tls_ca", config.tls_ca)
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True
    )


def bind(server: grpc.aio.Server, config: ControllerConfig) -> int:
    """Add the listening port; returns the bound port (0 = failed)."""
    if tls_enabled(config):
        port = server.add_secure_port(config.listen, server_credentials(config))
        log.info("controller_tls", listen=config.listen, client_certificates="required")
        return port
    log.warning(
        "controller_plaintext",
        listen=config.listen,
        detail="serving without TLS: anyone on the network can read and forge traffic, and "
        "agents cannot be told apart; set tls_cert, tls_key and tls_ca in production",
    )
    return server.add_insecure_port(config.listen)


def peer_channel(config: ControllerConfig, target: str, **kwargs: Any) -> grpc.aio.Channel:
    """A channel from this controller to another replica (a follower forwarding to the
    leader): with TLS, the controller's own certificate is its client certificate."""
    if not tls_enabled(config):
        return grpc.aio.insecure_channel(target, **kwargs)
    credentials = grpc.ssl_channel_credentials(
        _read("tls_ca", config.tls_ca),
        _read("tls_key", config.tls_key),
        _read("tls_cert", config.tls_cert),
    )
    return grpc.aio.secure_channel(target, credentials, **kwargs)
