"""`aiwo up --secure` as a user runs it: the CLI finds the credentials on its own, roles
hold, plaintext is refused — and no token or private key ever reaches a log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aetcd
import pytest

BIN = Path(sys.executable).parent
DEMO_S = 4  # how long the demo workloads run before the cluster is stopped
# A managed workload that uses the SDK with what its agent gave it (environment only).
REPORTER = """
import os, time
from sdk import SyncClient
namespace, name = os.environ["AIWO_WORKLOAD"].split("/")
with SyncClient.connect(os.environ["AIWO_CONTROLLER"]) as client:
    with client.get_handle(name, namespace=namespace).attach() as session:
        session.wait_connected(timeout=20)
        for _ in range(120):
            session.report(latency_ms=[7.0] * 10, throughput_per_s=10)
            time.sleep(0.5)
"""


def _aiwo() -> list[str]:
    script = BIN / "aiwo"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sdk.cli.main"]


def _cli(state: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIWO_STATE_DIR": str(state)}
    for name in ("AIWO_CONTROLLER", "AIWO_TOKEN", "AIWO_TOKEN_FILE", "AIWO_TLS_CA"):
        env.pop(name, None)
    out = subprocess.run([*_aiwo(), *args], env=env, capture_output=True, text=True, timeout=30)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def _wait_for_cluster(state: Path, up: subprocess.Popen[str]) -> dict[str, object]:
    """cluster.json once `aiwo up` has written it (with its credentials)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert up.poll() is None, "aiwo up exited early"
        try:
            data = json.loads((state / "cluster.json").read_text())
            if data.get("controller") and data.get("credentials"):
                return dict(data)
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError("cluster.json was not written")


def _wait_for_nodes(state: Path, controller: str, count: int) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        out = _cli(state, "--controller", controller, "nodes", "-o", "json", check=False)
        if out.returncode == 0 and len(json.loads(out.stdout)) == count:
            return
        time.sleep(0.3)
    raise AssertionError(f"{count} nodes did not register: {out.stderr}")


def _key_material(directory: Path) -> list[str]:
    """The base64 lines of every private key under `directory`."""
    lines = []
    for key in directory.rglob("*-key.pem"):
        lines += [line for line in key.read_text().splitlines() if "PRIVATE KEY" not in line]
    return lines


def _etcd_refuses_plaintext(address: str) -> bool:
    """A plaintext etcd client (anyone on the network) cannot read the cluster's state."""

    async def attempt() -> bool:
        host, _, port = address.rpartition(":")
        client = aetcd.Client(host=host, port=int(port), timeout=3)
        try:
            await client.get(b"/aiwo/v1/nodes/node-1")
        except Exception:  # the TLS-only server drops a plaintext HTTP/2 preface
            return True
        finally:
            with contextlib.suppress(Exception):
                await client.close()
        return False

    return asyncio.run(attempt())


def test_a_secured_local_cluster(tmp_path: Path) -> None:
    state = tmp_path / "state"
    up_log = tmp_path / "up.out"
    with open(up_log, "w") as out:
        up = subprocess.Popen(
            [
                *_aiwo(), "up", "--secure", "--demo",
                "--state-dir", str(state),
                "--nodes", "2", "--gpus-per-node", "2",
            ],
            stdout=out, stderr=subprocess.STDOUT, text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("AIWO_")},
        )  # fmt: skip
    minted: list[str] = []
    try:
        # The address is always named: another cluster may hold the default port.
        cluster = _wait_for_cluster(state, up)
        controller = str(cluster["controller"])
        _wait_for_nodes(state, controller, 2)
        recorded = cluster["credentials"]
        assert isinstance(recorded, dict)
        assert set(recorded) == {
            "ca", "cert", "key", "server_name", "token_file", "gateway_cert", "gateway_key",
            "etcd_ca", "etcd_cert", "etcd_key",
        }  # fmt: skip
        assert (Path(recorded["token_file"]).stat().st_mode & 0o777) == 0o600

        whoami = _cli(state, "--controller", controller, "tokens", "whoami").stdout
        assert "role admin" in whoami

        viewer = _cli(
            state, "--controller", controller, "tokens", "create", "--role", "viewer", "--ttl", "1h"
        )
        token = viewer.stdout.strip()
        minted.append(token)
        assert token.startswith("aiwo_") and "shown only now" in viewer.stderr
        denied = _cli(
            state, "--controller", controller, "--token", token, "cordon", "node-1", check=False
        )
        assert denied.returncode == 1
        assert "missing permission nodes.cordon (role viewer)" in denied.stderr
        as_viewer = _cli(state, "--controller", controller, "--token", token, "nodes", "-o", "json")
        assert len(json.loads(as_viewer.stdout)) == 2

        # Plaintext to the same address: refused (an empty state dir holds no credentials).
        bare = tmp_path / "bare"
        plain = _cli(bare, "--controller", controller, "nodes", check=False)
        assert plain.returncode == 1 and "it may require TLS" in plain.stderr

        statuses = json.loads(_cli(state, "cluster", "status", "-o", "json").stdout)
        controllers = [s for s in statuses if s["role"] == "controller"]
        assert controllers and all(s["healthy"] for s in controllers), controllers
        # etcd serves TLS only, to certificates from the cluster's CA (its health: over TLS).
        [member] = [s for s in statuses if s["role"] == "etcd"]
        assert member["healthy"], member
        assert _etcd_refuses_plaintext(member["address"])
        # Prometheus's endpoint too: HTTPS, and only with a certificate from the CA.
        metrics = f"https://{cluster['metrics']}/metrics"
        context = ssl.create_default_context(cafile=recorded["ca"])
        context.check_hostname = False  # the controller's certificate names localhost
        with pytest.raises(OSError):  # no client certificate: the handshake is refused
            urllib.request.urlopen(metrics, timeout=5, context=context).read()
        context.load_cert_chain(recorded["cert"], recorded["key"])
        with urllib.request.urlopen(metrics, timeout=5, context=context) as reply:
            assert b"aiwo_" in reply.read()

        listed = json.loads(
            _cli(state, "--controller", controller, "tokens", "list", "-o", "json").stdout
        )
        assert {t["role"] for t in listed} >= {"admin", "workload", "viewer"}
        assert all("token" not in t for t in listed)
        # A workload an agent starts gets a client certificate and its own token from its
        # agent (minted by the controller for work placed on that node): it attaches and
        # reports like any other application.
        _cli(
            state, "--controller", controller, "run", "reporter",  # CPU only: GPUs are taken
            "--", str(BIN / "python"), "-c", REPORTER,
        )  # fmt: skip

        def reported() -> bool:
            listed = _cli(state, "--controller", controller, "workloads", "-o", "json").stdout
            [me] = [w for w in json.loads(listed) if w["name"] == "reporter"]
            return bool(me.get("p99_latency_ms"))

        deadline = time.monotonic() + 40
        while not reported():
            assert time.monotonic() < deadline, "the managed workload never reported"
            time.sleep(0.5)
        tokens = json.loads(
            _cli(state, "--controller", controller, "tokens", "list", "-o", "json").stdout
        )
        [issued] = [t for t in tokens if "managed workload default/reporter" in t["description"]]
        assert issued["role"] == "workload" and issued["namespaces"] == ["default"]
        time.sleep(DEMO_S)  # the demo workloads register and report through their token
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=60)
    assert up.returncode == 0, up_log.read_text()

    secrets = [
        *minted,
        (state / "secure" / "admin.token").read_text().strip(),
        (state / "secure" / "workload.token").read_text().strip(),
        *(f.read_text().strip() for f in state.glob("agents/*/credentials/*.token")),
    ]
    assert len(secrets) >= 4  # the reporter's, minted for it and handed over by its agent
    keys = _key_material(state / "secure" / "certs")
    assert len(keys) >= 5  # CA, controller, CLI and two nodes
    logs = {p: p.read_text(errors="replace") for p in (state / "logs").glob("*.log")}
    logs[up_log] = up_log.read_text(errors="replace")
    assert any("audit" in text for text in logs.values()), "the controller audited"
    for path, text in logs.items():
        assert "PRIVATE KEY" not in text, path
        for secret in [*secrets, *keys]:
            assert secret not in text, f"secret material in {path}"
        # Even a part of a token: its secret half never appears.
        for token in secrets:
            assert token.split("_", 2)[2] not in text, f"token secret in {path}"
