"""The SDK's credentials: explicit, from the environment, or from the cluster `aiwo up`
recorded — the recorded ones only for that cluster's own address."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from controlplane.app.config import ControllerConfig
from controlplane.app.server import Controller
from sdk import (
    AdminClient,
    ClientConfig,
    ControllerUnavailable,
    TlsConfig,
    Unauthenticated,
)
from sdk._tls import resolve_security
from sdk._tokens import write_secret
from tests.helpers import started
from tests.security.conftest import Credentials

ADDRESS = "127.0.0.1:7443"


def _record(state: Path, controller: str, credentials: dict[str, str]) -> None:
    state.mkdir(parents=True, exist_ok=True)
    (state / "cluster.json").write_text(
        json.dumps({"controller": controller, "credentials": credentials})
    )


def test_explicit_settings_win(tmp_path: Path) -> None:
    config = ClientConfig(token="explicit", tls=TlsConfig(ca_file="/ca.pem"))
    env = {"AIWO_STATE_DIR": str(tmp_path), "AIWO_TOKEN": "env", "AIWO_TLS_CA": "/env.pem"}
    security = resolve_security(ADDRESS, config, env)
    assert security.token == "explicit" and security.tls == TlsConfig(ca_file="/ca.pem")


def test_the_environment_comes_next(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    write_secret(token_file, "from-file")
    env = {
        "AIWO_STATE_DIR": str(tmp_path),
        "AIWO_TOKEN_FILE": str(token_file),
        "AIWO_TLS_CA": "/ca.pem",
        "AIWO_TLS_CERT": "/c.pem",
        "AIWO_TLS_KEY": "/k.pem",
    }
    security = resolve_security(ADDRESS, ClientConfig(), env)
    assert security.token == "from-file"
    assert security.tls == TlsConfig("/ca.pem", "/c.pem", "/k.pem")
    assert resolve_security(ADDRESS, ClientConfig(), {**env, "AIWO_TOKEN": "t"}).token == "t"


def test_recorded_credentials_apply_to_their_cluster_only(tmp_path: Path) -> None:
    token_file = tmp_path / "admin.token"
    write_secret(token_file, "recorded")
    recorded = {"ca": "/ca.pem", "cert": "/c.pem", "key": "/k.pem", "token_file": str(token_file)}
    _record(tmp_path, ADDRESS, recorded)
    env = {"AIWO_STATE_DIR": str(tmp_path)}
    mine = resolve_security(ADDRESS, ClientConfig(), env)
    assert mine.token == "recorded" and mine.tls == TlsConfig("/ca.pem", "/c.pem", "/k.pem")
    elsewhere = resolve_security("10.1.2.3:7070", ClientConfig(), env)
    assert elsewhere.token is None and elsewhere.tls is None  # never sent to another server


def test_nothing_configured_means_plaintext_without_a_token(tmp_path: Path) -> None:
    security = resolve_security(ADDRESS, ClientConfig(), {"AIWO_STATE_DIR": str(tmp_path)})
    assert security.tls is None and security.token is None


async def test_the_sdk_connects_with_tls_and_a_token(
    secure_controller: Controller, credentials: Credentials, tmp_path: Path
) -> None:
    pki = credentials.pki
    tls = TlsConfig(str(pki.ca_cert), str(pki.client_cert), str(pki.client_key))
    admin = await AdminClient.connect(
        secure_controller.address, config=ClientConfig(token=credentials.admin_token, tls=tls)
    )
    try:
        assert await admin.list_nodes() == []
    finally:
        await admin.close()

    anonymous = await AdminClient.connect(secure_controller.address, config=ClientConfig(tls=tls))
    try:
        with pytest.raises(Unauthenticated, match="missing bearer token"):
            await anonymous.list_nodes()
    finally:
        await anonymous.close()


async def test_the_sdk_reads_what_aiwo_up_recorded(
    secure_controller: Controller,
    credentials: Credentials,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pki = credentials.pki
    token_file = tmp_path / "admin.token"
    write_secret(token_file, credentials.admin_token)
    _record(
        tmp_path,
        secure_controller.address,
        {
            "ca": str(pki.ca_cert),
            "cert": str(pki.client_cert),
            "key": str(pki.client_key),
            "token_file": str(token_file),
        },
    )
    for name in ("AIWO_CONTROLLER", "AIWO_TOKEN", "AIWO_TOKEN_FILE", "AIWO_TLS_CA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIWO_STATE_DIR", str(tmp_path))
    admin = await AdminClient.connect()
    try:
        assert admin.target == secure_controller.address
        assert await admin.list_workloads() == []
        assert (await admin.cluster_info()).leader
    finally:
        await admin.close()


async def test_connection_failures_say_what_tls_setting_is_missing(
    secure_controller: Controller,
    credentials: Credentials,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIWO_STATE_DIR", str(tmp_path))  # no recorded credentials
    for name in ("AIWO_TOKEN", "AIWO_TOKEN_FILE", "AIWO_TLS_CA", "AIWO_TLS_CERT"):
        monkeypatch.delenv(name, raising=False)
    config = ClientConfig(connect_timeout_s=3)
    with pytest.raises(ControllerUnavailable, match="it may require TLS"):
        await AdminClient.connect(secure_controller.address, config=config)
    ca_only = replace(config, tls=TlsConfig(ca_file=str(credentials.pki.ca_cert)))
    with pytest.raises(ControllerUnavailable, match="it may require a client certificate"):
        await AdminClient.connect(secure_controller.address, config=ca_only)


async def test_tls_against_a_plaintext_controller_says_so(
    secure_config: ControllerConfig, credentials: Credentials
) -> None:
    async with started(
        Controller(replace(secure_config, tls_cert="", tls_key="", tls_ca="", auth="none"))
    ) as plaintext:
        pki = credentials.pki
        tls = TlsConfig(str(pki.ca_cert), str(pki.client_cert), str(pki.client_key))
        with pytest.raises(ControllerUnavailable, match="does not serve TLS"):
            await AdminClient.connect(plaintext.address, config=ClientConfig(tls=tls))
