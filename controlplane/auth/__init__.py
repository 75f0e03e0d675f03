"""Security of the controller: TLS, node identity, tokens and roles, audit.

`AuthPlane` is what the Controller composes: the interceptor, AuthService, the token
store's lifecycle and the listening port. docs/security.md explains the model.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import structlog

from controlplane.app.config import ControllerConfig
from controlplane.auth.interceptor import AuthInterceptor
from controlplane.auth.revocation import RevocationError, Revocations
from controlplane.auth.service import AuthService
from controlplane.auth.tls import bind, peer_channel, tls_enabled
from controlplane.auth.tokens import TokenStore
from controlplane.etcd.store import EtcdStore
from controlplane.rpc.common import Leadership
from sdk.pb.aiwo.v1 import auth_pb2_grpc

log = structlog.get_logger("aiwo.controller")

SERVICE_NAME = "aiwo.v1.AuthService"

__all__ = ["SERVICE_NAME", "AuthPlane", "peer_channel"]


class AuthPlane:
    def __init__(self, config: ControllerConfig, store: EtcdStore, leadership: Leadership) -> None:
        self.config = config
        self.tokens = TokenStore(store, config.etcd_prefix, config.tokens_file)
        self.revocations = _revocations(config)
        self.interceptor = AuthInterceptor(
            self.tokens if config.auth == "token" else None,
            node_identity=tls_enabled(config),
            revocations=self.revocations,
        )
        self._leadership = leadership

    async def start(self) -> None:
        """After the store has connected: fill the token cache."""
        await self.tokens.start()
        if self.config.auth != "token":
            log.warning(
                "auth_disabled",
                detail="no bearer tokens required: every caller acts as admin; "
                'set auth = "token" in production',
            )

    async def stop(self) -> None:
        await self.tokens.stop()

    def add_to_server(self, server: grpc.aio.Server) -> None:
        auth_pb2_grpc.add_AuthServiceServicer_to_server(
            AuthService(self.tokens, self._leadership), server
        )

    def bind(self, server: grpc.aio.Server) -> int:
        return bind(server, self.config)


def _revocations(config: ControllerConfig) -> Revocations | None:
    """The CRL, read now: a missing or forged one stops the controller at start."""
    if not config.tls_crl:
        return None
    try:
        ca = Path(config.tls_ca).read_bytes()
    except OSError as exc:
        raise RevocationError(f"tls_ca {config.tls_ca}: {exc.strerror or exc}") from None
    revocations = Revocations(Path(config.tls_crl), ca)
    revocations.load()
    return revocations
