"""`aiwo-gateway` as a real process: flags, mutual TLS to the controller, a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import grpc
import pytest

from sdk import _pki
from tests.gateway.conftest import ReplicaFactory
from tests.gateway.harness import FakeController
from tests.helpers import assert_eventually, free_port, run_module


def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.main", *args, "--log-format", "json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "AIWO_STATE_DIR": "/nonexistent-aiwo-test"},
    )


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        _stop(process)


async def _get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, response.headers.get("X-Replica", "")


async def _eventually_ok(port: int, path: str) -> str:
    async def check() -> str:
        try:
            status, replica = await _get(port, path)
        except aiohttp.ClientConnectionError:
            return ""
        return replica if status == 200 else ""

    return await assert_eventually(check, timeout_s=60, interval_s=0.2)


async def test_the_process_serves_stops_on_sigterm_and_relearns_after_restart(
    controller: FakeController,
    make_replica: ReplicaFactory,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    replica = await make_replica("r-0")
    controller.set("svc", {"r-0": replica.address})
    port, metrics_port = free_port(), free_port()
    args = (
        "--listen", f"127.0.0.1:{port}",
        "--controller", f"127.0.0.1:{controller.port}",
        "--metrics-listen", f"127.0.0.1:{metrics_port}",
        "--name", "gw-proc",
    )  # fmt: skip
    first = _start(*args)
    processes.append(first)
    assert await _eventually_ok(port, "/s/default/svc/echo") == "r-0"
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{metrics_port}/metrics") as response,
    ):
        text = await response.text()
    assert 'aiwo_gateway_requests_total{outcome="ok"}' in text
    assert "aiwo_gateway_controller_connected 1.0" in text
    assert await asyncio.to_thread(_stop, first) == 0
    watches = controller.watch_calls
    second = _start(*args)
    processes.append(second)
    assert await _eventually_ok(port, "/s/default/svc/echo") == "r-0"
    assert controller.watch_calls > watches  # it asked the controller again
    await assert_eventually(lambda: any(r.gateway == "gw-proc" for r in controller.reports))


def test_bad_flags_are_one_line_errors() -> None:
    result = run_module("gateway.main", "--listen", "nowhere", "--controller", "x:1")
    assert result.returncode == 2
    assert result.stderr.strip() == "aiwo-gateway: listen: expected HOST:PORT, got 'nowhere'"


def _pki_files(tmp: Path) -> dict[str, Path]:
    ca = _pki.create_ca()
    server = _pki.issue_controller(ca)
    gateway = _pki.issue(ca, "aiwo-gateway", uris=["aiwo://gateway/gw-tls"], client=True)
    files = {
        "ca": (ca.cert_pem, False),
        "server": (server.cert_pem, False),
        "server-key": (server.key_pem, True),
        "gateway": (gateway.cert_pem, False),
        "gateway-key": (gateway.key_pem, True),
    }
    paths: dict[str, Path] = {}
    for name, (data, private) in files.items():
        paths[name] = tmp / f"{name}.pem"
        _pki.write_pem(paths[name], data, private=private)
    return paths


async def test_mutual_tls_with_the_gateway_s_own_certificate(
    make_replica: ReplicaFactory, processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    pem = _pki_files(tmp_path)
    credentials = grpc.ssl_server_credentials(
        [(pem["server-key"].read_bytes(), pem["server"].read_bytes())],
        root_certificates=pem["ca"].read_bytes(),
        require_client_auth=True,
    )
    controller = FakeController()
    await controller.start(credentials=credentials)
    try:
        replica = await make_replica("r-0")
        controller.set("svc", {"r-0": replica.address})
        base = ("--controller", f"localhost:{controller.port}", "--metrics-listen", "")
        # Without a certificate the controller lets nothing through.
        bare_port = free_port()
        bare = _start("--listen", f"127.0.0.1:{bare_port}", *base)
        processes.append(bare)
        port = free_port()
        secured = _start(
            "--listen", f"127.0.0.1:{port}", *base,
            "--tls-cert", str(pem["gateway"]),
            "--tls-key", str(pem["gateway-key"]),
            "--tls-ca", str(pem["ca"]),
        )  # fmt: skip
        processes.append(secured)
        assert await _eventually_ok(port, "/s/default/svc/echo") == "r-0"
        identities = [p.get("x509_subject_alternative_name", []) for p in controller.peers]
        assert [b"aiwo://gateway/gw-tls"] in identities

        async def bare_unhealthy() -> bool:
            try:
                status, _ = await _get(bare_port, "/healthz")
            except aiohttp.ClientConnectionError:
                return False  # not listening yet
            assert status == 503  # listening, but it never got a snapshot
            return True

        unhealthy: bool = await assert_eventually(bare_unhealthy, timeout_s=60)
        assert unhealthy
    finally:
        await controller.stop()
