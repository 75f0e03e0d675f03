"""The agent's side of mutual TLS: its node certificate, and the CA it trusts.

Files are read at every (re)connection, so a rotated certificate is used from the next
session on without a restart. Without tls_cert the agent connects in plaintext and says
so at every connection: that is for a laptop cluster, never a fleet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import structlog

from nodeagent.config import AgentConfig

log = structlog.get_logger("aiwo.agent")


class TlsFilesError(OSError):
    """A configured certificate or key cannot be read; the message names the setting."""


def _read(name: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TlsFilesError(f"{name} {path}: {exc.strerror or exc}") from None


def tls_enabled(config: AgentConfig) -> bool:
    return bool(config.tls_cert)


def channel_credentials(config: AgentConfig) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=_read("tls_ca", config.tls_ca) if config.tls_ca else None,
        private_key=_read("tls_key", config.tls_key),
        certificate_chain=_read("tls_cert", config.tls_cert),
    )


def open_channel(
    config: AgentConfig, target: str, options: list[tuple[str, Any]]
) -> grpc.aio.Channel:
    """A mutual-TLS channel to `target` when configured, else plaintext (with a warning)."""
    if not tls_enabled(config):
        log.warning("controller_plaintext", controller=target)
        return grpc.aio.insecure_channel(target, options=options)
    if config.tls_server_name:
        options = [*options, ("grpc.ssl_target_name_override", config.tls_server_name)]
    return grpc.aio.secure_channel(target, channel_credentials(config), options=options)
