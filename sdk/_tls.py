"""Which credentials a client presents: TLS files and a bearer token, resolved once.

Order, for each of the two: what `ClientConfig` says, else the environment ($AIWO_TLS_CA,
$AIWO_TLS_CERT, $AIWO_TLS_KEY, $AIWO_TLS_SERVER_NAME; $AIWO_TOKEN, $AIWO_TOKEN_FILE), else
the "credentials" that `aiwo up --secure` recorded in cluster.json. The recorded ones are
used only when the address being dialled is that cluster's controller: a token must never
be sent to some other server just because a local cluster once ran here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc

from sdk._config import ClientConfig, TlsConfig
from sdk._errors import AiwoError
from sdk._target import check_target, read_cluster_file

ENV_TOKEN = "AIWO_TOKEN"
ENV_TOKEN_FILE = "AIWO_TOKEN_FILE"
ENV_TLS = {
    "ca_file": "AIWO_TLS_CA",
    "cert_file": "AIWO_TLS_CERT",
    "key_file": "AIWO_TLS_KEY",
    "server_name": "AIWO_TLS_SERVER_NAME",
}
# cluster.json "credentials" keys -> TlsConfig fields
_RECORDED_TLS = {
    "ca": "ca_file",
    "cert": "cert_file",
    "key": "key_file",
    "server_name": "server_name",
}


@dataclass(frozen=True)
class Security:
    tls: TlsConfig | None
    token: str | None


def resolve_security(
    target: str, config: ClientConfig, environ: Mapping[str, str] | None = None
) -> Security:
    env = os.environ if environ is None else environ
    recorded = _recorded_credentials(target, env)
    tls = config.tls or _tls_from_env(env) or _tls_from_record(recorded)
    token = config.token or _token_from_env(env) or _token_from_record(recorded)
    return Security(tls, token)


def with_token(config: ClientConfig, security: Security) -> ClientConfig:
    return config if config.token == security.token else replace(config, token=security.token)


def _recorded_credentials(target: str, env: Mapping[str, str]) -> dict[str, Any]:
    cluster = read_cluster_file(environ=env)
    if not cluster:
        return {}
    replicas = cluster.get("controllers")
    addresses = {cluster.get("controller"), *(replicas if isinstance(replicas, list) else ())}
    if target not in addresses:
        return {}
    credentials = cluster.get("credentials")
    return credentials if isinstance(credentials, dict) else {}


def _tls_from_env(env: Mapping[str, str]) -> TlsConfig | None:
    values = {name: env.get(var, "") for name, var in ENV_TLS.items()}
    return TlsConfig(**values) if any(values.values()) else None


def _tls_from_record(recorded: dict[str, Any]) -> TlsConfig | None:
    values = {field: str(recorded.get(key) or "") for key, field in _RECORDED_TLS.items()}
    return TlsConfig(**values) if any(values.values()) else None


def _token_from_env(env: Mapping[str, str]) -> str | None:
    if env.get(ENV_TOKEN):
        return env[ENV_TOKEN].strip()
    if env.get(ENV_TOKEN_FILE):
        return read_token_file(env[ENV_TOKEN_FILE])
    return None


def _token_from_record(recorded: dict[str, Any]) -> str | None:
    path = recorded.get("token_file")
    return read_token_file(str(path)) if path else None


def read_token_file(path: str) -> str:
    try:
        token = Path(path).expanduser().read_text().strip()
    except OSError as exc:
        raise AiwoError(f"token file {path}: {exc.strerror or exc}") from None
    if not token:
        raise AiwoError(f"token file {path} is empty")
    return token


def _read(kind: str, path: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise AiwoError(f"tls {kind} {path}: {exc.strerror or exc}") from None


def channel_credentials(tls: TlsConfig) -> grpc.ChannelCredentials:
    """Read the files now: a rotated certificate is picked up by the next connection."""
    if bool(tls.cert_file) != bool(tls.key_file):
        raise AiwoError("tls: a client certificate needs its key (cert_file and key_file)")
    root = _read("ca_file", tls.ca_file) if tls.ca_file else None
    key = _read("key_file", tls.key_file) if tls.key_file else None
    cert = _read("cert_file", tls.cert_file) if tls.cert_file else None
    return grpc.ssl_channel_credentials(root, key, cert)


def channel_options(tls: TlsConfig | None) -> list[tuple[str, Any]]:
    if tls is not None and tls.server_name:
        return [("grpc.ssl_target_name_override", tls.server_name)]
    return []


def open_channel(
    address: str, tls: TlsConfig | None, options: list[tuple[str, Any]] | None = None
) -> grpc.aio.Channel:
    """A TLS channel when `tls` is set, else a plaintext one."""
    check_target(address)
    opts = [*(options or []), *channel_options(tls)]
    if tls is None:
        return grpc.aio.insecure_channel(address, options=opts or None)
    return grpc.aio.secure_channel(address, channel_credentials(tls), options=opts or None)
