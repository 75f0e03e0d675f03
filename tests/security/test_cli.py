"""`aiwo certs` and `aiwo tokens --file`: offline, with click's runner."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from sdk._pki import gateway_names, node_names
from sdk._tokens import digest, read_tokens_file, token_id_of
from sdk.cli.main import cli
from sdk.cli.tokens import parse_ttl


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"AIWO_TOKEN": None})
    return result.exit_code, result.stdout, result.stderr


def test_certs_init_writes_a_ca_and_named_certificates(tmp_path: Path) -> None:
    code, out, _ = _run("certs", "init", "--dir", str(tmp_path), "--nodes", "gpu-1,gpu-2")
    assert code == 0, out
    for name in ("ca", "controller", "cli", "nodes/gpu-1", "nodes/gpu-2"):
        key = tmp_path / f"{name}-key.pem"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
        assert (tmp_path / f"{name}.pem").exists()
    assert node_names((tmp_path / "nodes" / "gpu-2.pem").read_bytes()) == ["gpu-2"]
    assert node_names((tmp_path / "cli.pem").read_bytes()) == []
    controller = x509.load_pem_x509_certificate((tmp_path / "controller.pem").read_bytes())
    sans = controller.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]

    # A second run keeps the CA, so certificates already handed out stay valid.
    ca = (tmp_path / "ca.pem").read_bytes()
    assert _run("certs", "init", "--dir", str(tmp_path))[0] == 0
    assert (tmp_path / "ca.pem").read_bytes() == ca
    code, out, _ = _run("certs", "issue", "--dir", str(tmp_path), "--node", "gpu-3")
    assert code == 0 and node_names((tmp_path / "nodes" / "gpu-3.pem").read_bytes()) == ["gpu-3"]


def test_certs_issue_gateways_their_own_certificates(tmp_path: Path) -> None:
    code, out, _ = _run("certs", "init", "--dir", str(tmp_path), "--gateways", "gw-1")
    assert code == 0 and "gateway gw-1" in out, out
    code, out, _ = _run("certs", "issue", "--dir", str(tmp_path), "--gateway", "gw-2")
    assert code == 0, out
    for name in ("gw-1", "gw-2"):
        cert = (tmp_path / "gateways" / f"{name}.pem").read_bytes()
        key = tmp_path / "gateways" / f"{name}-key.pem"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        # The gateway's name and nothing that could pass as a node or a client.
        assert gateway_names(cert) == [name] and node_names(cert) == []
        sans = x509.load_pem_x509_certificate(cert).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
        assert sans.value.get_values_for_type(x509.UniformResourceIdentifier) == [
            f"aiwo://gateway/{name}"
        ]
    assert gateway_names((tmp_path / "cli.pem").read_bytes()) == []
    code, out, _ = _run("certs", "revoke", "--dir", str(tmp_path), "--gateway", "gw-2")
    assert code == 0 and "gateways/gw-2.pem" in out
    crl = x509.load_pem_x509_crl((tmp_path / "crl.pem").read_bytes())
    revoked = x509.load_pem_x509_certificate((tmp_path / "gateways" / "gw-2.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(revoked.serial_number) is not None
    code, _, err = _run("certs", "issue", "--dir", str(tmp_path), "--gateway", "GW")
    assert code == 2 and "[a-z0-9-]" in err


def test_certs_refuse_bad_node_names(tmp_path: Path) -> None:
    code, _, err = _run("certs", "init", "--dir", str(tmp_path), "--nodes", "GPU_1")
    assert code == 2 and "[a-z0-9-]" in err


def test_tokens_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    code, out, err = _run(
        "tokens", "create", "--role", "workload", "-n", "team-a", "--ttl", "2h", "--file", str(path)
    )
    assert code == 0, err
    token = out.strip()
    assert "shown only now" in err and token not in err
    [record] = read_tokens_file(path)
    assert record.id == token_id_of(token) and record.sha256 == digest(token).hex()
    assert record.namespaces == ["team-a"]
    assert record.expires_unix - record.created_unix == pytest.approx(7200)
    assert token not in path.read_text() and stat.S_IMODE(path.stat().st_mode) == 0o600

    code, out, _ = _run("tokens", "list", "--file", str(path), "-o", "json")
    assert [(t["id"], t["status"]) for t in json.loads(out)] == [(record.id, "active")]
    assert _run("tokens", "revoke", record.id, "--file", str(path))[0] == 0
    code, out, _ = _run("tokens", "list", "--file", str(path), "-o", "json")
    assert json.loads(out)[0]["status"] == "revoked"


def test_a_workload_token_needs_a_namespace(tmp_path: Path) -> None:
    code, _, err = _run("tokens", "create", "--role", "workload", "--file", str(tmp_path / "t"))
    assert code == 1 and "namespaces" in err


@pytest.mark.parametrize(
    ("text", "seconds"), [("0", 0), ("90", 90), ("15m", 900), ("12h", 43200), ("30d", 2592000)]
)
def test_ttl(text: str, seconds: float) -> None:
    assert parse_ttl(text) == seconds
