"""Revoked certificates (tls_crl): refused on their next call, and open streams end."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from controlplane.app.config import ControllerConfig
from controlplane.app.server import Controller
from controlplane.auth import revocation
from controlplane.auth.revocation import RevocationError, Revocations
from sdk import _tokens
from sdk._pki import Issued, PkiLayout, create_ca, init_pki, issue_client, load_ca, revoke
from sdk.pb.aiwo.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
    types_pb2,
    workload_pb2,
    workload_pb2_grpc,
)
from tests.controlplane.agentsim import node_info
from tests.helpers import EtcdMember, assert_eventually, make_controller_config, run_module


@pytest.fixture
def pki(tmp_path: Path) -> PkiLayout:
    return init_pki(tmp_path / "certs", nodes=["node-a", "node-b"])


def _bump(path: Path) -> None:
    """A new modification time, however coarse the file system's clock."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_init_writes_an_empty_crl_that_a_kept_ca_keeps(pki: PkiLayout) -> None:
    crl = pki.directory / "crl.pem"
    checker = Revocations(crl, pki.ca_cert.read_bytes())
    checker.load()
    assert checker.reason(pki.node_certs["node-a"][0].read_bytes()) is None
    ca = _ca(pki)
    crl.write_bytes(revoke(ca, [pki.node_certs["node-a"][0].read_bytes()], crl.read_bytes()))
    init_pki(pki.directory, nodes=["node-c"])  # the same CA: what it revoked stays revoked
    again = Revocations(crl, pki.ca_cert.read_bytes())
    again.load()
    assert again.reason(pki.node_certs["node-a"][0].read_bytes()) is not None


def _ca(pki: PkiLayout) -> Issued:
    return load_ca(pki.directory)


def test_reason_names_the_certificate_and_changes_apply_within_a_second(
    pki: PkiLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(revocation, "CHECK_INTERVAL_S", 0.0)
    crl = pki.directory / "crl.pem"
    node_a = pki.node_certs["node-a"][0].read_bytes()
    node_b = pki.node_certs["node-b"][0].read_bytes()
    checker = Revocations(crl, pki.ca_cert.read_bytes())
    checker.load()
    crl.write_bytes(revoke(_ca(pki), [node_a], crl.read_bytes()))
    _bump(crl)
    reason = checker.reason(node_a)
    assert reason is not None and reason.startswith("certificate CN=node-a (serial ")
    assert reason.endswith(") was revoked")
    assert checker.reason(node_b) is None
    # A half-written update keeps what was revoked: it never lets node-a back in.
    crl.write_bytes(b"-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n")
    _bump(crl)
    assert checker.reason(node_a) is not None


def test_a_crl_of_another_ca_or_no_crl_stops_the_start(pki: PkiLayout, tmp_path: Path) -> None:
    other = create_ca("someone else's CA")
    forged = tmp_path / "forged.pem"
    forged.write_bytes(revoke(other, []))
    with pytest.raises(RevocationError, match="is not signed by a CA in tls_ca"):
        Revocations(forged, pki.ca_cert.read_bytes()).load()
    with pytest.raises(RevocationError, match="no CRL in it"):
        empty = tmp_path / "empty.pem"
        empty.write_bytes(b"")
        Revocations(empty, pki.ca_cert.read_bytes()).load()
    with pytest.raises(ValueError, match="not by this CA"):
        revoke(_ca(pki), [issue_client(other, "x").cert_pem])


# ---------------------------------------------------------------- the controller


@pytest.fixture
async def guarded(
    etcd: EtcdMember, etcd_prefix: str, pki: PkiLayout, tmp_path: Path
) -> AsyncIterator[tuple[Controller, str]]:
    token, record = _tokens.new_file_token("admin", description="test")
    tokens_file = tmp_path / "tokens.json"
    _tokens.write_tokens_file(tokens_file, [record])
    config = make_controller_config(
        etcd,
        etcd_prefix,
        tls_cert=str(pki.controller_cert),
        tls_key=str(pki.controller_key),
        tls_ca=str(pki.ca_cert),
        tls_crl=str(pki.directory / "crl.pem"),
        auth="token",
        tokens_file=str(tokens_file),
    )
    ctl = Controller(config)
    await ctl.start()
    await assert_eventually(lambda: ctl.store.epoch > 0, message="the controller never led")
    yield ctl, token
    await ctl.stop(0)


def _channel(address: str, pki: PkiLayout, cert: Path, key: Path) -> grpc.aio.Channel:
    creds = grpc.ssl_channel_credentials(
        pki.ca_cert.read_bytes(), key.read_bytes(), cert.read_bytes()
    )
    return grpc.aio.secure_channel(address, creds)


async def test_a_revoked_node_is_refused_and_its_open_stream_ends(
    guarded: tuple[Controller, str], pki: PkiLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(revocation, "CHECK_INTERVAL_S", 0.0)
    ctl, _ = guarded
    crl = pki.directory / "crl.pem"
    async with (
        _channel(ctl.address, pki, *pki.node_certs["node-a"]) as a,
        _channel(ctl.address, pki, *pki.node_certs["node-b"]) as b,
    ):
        stub_a, stub_b = node_pb2_grpc.NodeServiceStub(a), node_pb2_grpc.NodeServiceStub(b)
        await stub_a.Register(node_pb2.RegisterNodeRequest(node=node_info("node-a", 1)))
        call = stub_a.Connect()
        await call.write(node_pb2.AgentMessage(hello=node_pb2.AgentHello(node="node-a")))
        first = await asyncio.wait_for(call.read(), 5)
        assert first.WhichOneof("body") == "sync"

        revoked = revoke(_ca(pki), [pki.node_certs["node-a"][0].read_bytes()], crl.read_bytes())
        crl.write_bytes(revoked)
        _bump(crl)

        report = node_pb2.TelemetryReport(
            time_unix=1.8e9, gpus=[types_pb2.GpuSample(index=0, power_w=100.0)]
        )
        await call.write(node_pb2.AgentMessage(telemetry=report))
        assert await asyncio.wait_for(call.code(), 5) == grpc.StatusCode.UNAUTHENTICATED
        assert "CN=node-a" in (await call.details()) and "was revoked" in (await call.details())
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub_a.Register(node_pb2.RegisterNodeRequest(node=node_info("node-a", 1)))
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # Another node's certificate from the same CA still works.
        await stub_b.Register(node_pb2.RegisterNodeRequest(node=node_info("node-b", 1)))


async def test_a_revoked_client_certificate_is_refused_even_with_a_good_token(
    guarded: tuple[Controller, str], pki: PkiLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(revocation, "CHECK_INTERVAL_S", 0.0)
    ctl, token = guarded
    metadata = (("authorization", f"Bearer {token}"),)
    async with _channel(ctl.address, pki, pki.client_cert, pki.client_key) as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        await admin.ListNodes(admin_pb2.ListNodesRequest(), metadata=metadata)
        crl = pki.directory / "crl.pem"
        crl.write_bytes(revoke(_ca(pki), [pki.client_cert.read_bytes()], crl.read_bytes()))
        _bump(crl)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await admin.ListNodes(admin_pb2.ListNodesRequest(), metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "CN=aiwo-cli" in (caught.value.details() or "")


def test_tls_crl_needs_tls() -> None:
    from controlplane.app.config import ConfigError

    with pytest.raises(ConfigError, match="tls_crl: revocation needs TLS"):
        replace(ControllerConfig(), tls_crl="/etc/aiwo/crl.pem").validate()


# ---------------------------------------------------------------- the CLI


def _aiwo(*args: str) -> subprocess.CompletedProcess[str]:
    return run_module("sdk.cli.main", *args)


def test_cli_revokes_by_node_name_and_names_what_is_wrong(pki: PkiLayout) -> None:
    done = _aiwo("certs", "revoke", "--dir", str(pki.directory), "--node", "node-b")
    assert done.returncode == 0, done.stderr
    assert "revoked" in done.stdout and "crl.pem" in done.stdout
    checker = Revocations(pki.directory / "crl.pem", pki.ca_cert.read_bytes())
    checker.load()
    assert checker.reason(pki.node_certs["node-b"][0].read_bytes()) is not None
    assert checker.reason(pki.node_certs["node-a"][0].read_bytes()) is None

    missing = _aiwo("certs", "revoke", "--dir", str(pki.directory), "--node", "node-z")
    assert missing.returncode != 0
    assert missing.stderr.strip().endswith("node-z.pem: No such file or directory")
    assert missing.stderr.count("\n") == 1  # one line, no traceback


async def test_a_token_revoked_while_its_stream_is_open_ends_the_stream(
    guarded: tuple[Controller, str], pki: PkiLayout
) -> None:
    ctl, _ = guarded
    token, info = await ctl.auth.tokens.create("workload", ["default"], 3600, "app", "test")
    as_app = (("authorization", f"Bearer {token}"),)
    async with _channel(ctl.address, pki, pki.client_cert, pki.client_key) as channel:
        workloads = workload_pb2_grpc.WorkloadServiceStub(channel)
        await workloads.Register(
            workload_pb2.RegisterWorkloadRequest(name="web", namespace="default"),
            metadata=as_app,
        )
        call = workloads.Attach(metadata=as_app)
        await call.write(
            workload_pb2.AppMessage(hello=workload_pb2.AttachHello(name="web", namespace="default"))
        )
        await call.write(
            workload_pb2.AppMessage(metrics=workload_pb2.MetricsReport(latency_ms=[5]))
        )
        await ctl.auth.tokens.revoke(info.id)
        await call.write(
            workload_pb2.AppMessage(metrics=workload_pb2.MetricsReport(latency_ms=[5]))
        )
        assert await asyncio.wait_for(call.code(), 5) == grpc.StatusCode.UNAUTHENTICATED
        assert await call.details() == f"token {info.id} was revoked"
