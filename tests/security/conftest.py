"""A secured controller in-process: mutual TLS and tokens, certificates made per session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest

from controlplane.app.config import ControllerConfig
from controlplane.app.server import Controller
from sdk import _tokens
from sdk._pki import PkiLayout, create_ca, init_pki, issue_node
from sdk.pb.aiwo.v1 import auth_pb2_grpc
from tests.controlplane.conftest import Stubs as ControllerStubs
from tests.helpers import EtcdMember, make_controller_config, started


@dataclass(frozen=True)
class Credentials:
    pki: PkiLayout
    tokens_file: Path
    admin_token: str
    foreign_node: tuple[bytes, bytes]  # cert, key of "node-a" signed by another CA

    def client_cert(self) -> tuple[bytes, bytes]:
        return self.pki.client_cert.read_bytes(), self.pki.client_key.read_bytes()

    def node_cert(self, node: str) -> tuple[bytes, bytes]:
        cert, key = self.pki.node_certs[node]
        return cert.read_bytes(), key.read_bytes()


@pytest.fixture(scope="session")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Credentials:
    directory = tmp_path_factory.mktemp("pki")
    pki = init_pki(directory / "certs", nodes=["node-a", "node-b"])
    token, record = _tokens.new_file_token("admin", description="test bootstrap")
    tokens_file = directory / "tokens.json"
    _tokens.write_tokens_file(tokens_file, [record])
    other = issue_node(create_ca("someone else's CA"), "node-a")
    return Credentials(pki, tokens_file, token, (other.cert_pem, other.key_pem))


@pytest.fixture
def secure_config(etcd: EtcdMember, etcd_prefix: str, credentials: Credentials) -> ControllerConfig:
    pki = credentials.pki
    return make_controller_config(
        etcd,
        etcd_prefix,
        node_grace_s=2.0,
        eviction_grace_s=2.0,
        optimize_interval_s=0.2,
        tls_cert=str(pki.controller_cert),
        tls_key=str(pki.controller_key),
        tls_ca=str(pki.ca_cert),
        auth="token",
        tokens_file=str(credentials.tokens_file),
    )


@pytest.fixture
async def secure_controller(secure_config: ControllerConfig) -> AsyncIterator[Controller]:
    async with started(Controller(secure_config)) as ctl:
        yield ctl


@pytest.fixture
async def secure_follower(secure_controller: Controller) -> AsyncIterator[Controller]:
    """A second replica of `secure_controller` (same etcd, TLS and tokens, its own port)."""
    async with started(
        Controller(replace(secure_controller.config, listen="127.0.0.1:0"))
    ) as follower:
        yield follower


class Stubs(ControllerStubs):
    """The controller's stubs and AuthService's."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        super().__init__(channel)
        self.auth = auth_pb2_grpc.AuthServiceStub(channel)


def tls_channel(
    address: str, credentials: Credentials, cert: tuple[bytes, bytes] | None = None
) -> grpc.aio.Channel:
    """A TLS channel presenting `cert` (default: the CLI's client certificate)."""
    cert_pem, key_pem = cert if cert is not None else credentials.client_cert()
    creds = grpc.ssl_channel_credentials(credentials.pki.ca_cert.read_bytes(), key_pem, cert_pem)
    return grpc.aio.secure_channel(address, creds)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture
async def secure_stubs(
    secure_controller: Controller, credentials: Credentials
) -> AsyncIterator[Stubs]:
    async with tls_channel(secure_controller.address, credentials) as channel:
        yield Stubs(channel)
