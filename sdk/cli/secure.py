"""What `aiwo up --secure` generates in STATE_DIR/secure, and how each process uses it.

- certs/etcd/: etcd's own CA (kept), its members' certificate and client certificates
  for the controllers and the CLI (fresh each start);
- certs/: a CA (kept across runs, so a client that trusts it keeps working), and fresh
  certificates for the controller, the CLI, every node and the gateway (URI
  aiwo://gateway/gateway: the gateway role, no token) at each start;
- tokens.json: the controller's tokens file, rewritten at each start (the previous run's
  tokens stop working), holding the hashes of
- admin.token (the CLI's, recorded in cluster.json) and workload.token (the demo
  workloads', role workload in namespace "default"), each a 0600 file.

Secrets travel to processes as file paths (--token-file, AIWO_TOKEN_FILE), never on a
command line or in the environment, where `ps` and /proc/PID/environ would show them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sdk import (
    ClientConfig,
    PkiLayout,
    TlsConfig,
    create_ca,
    init_pki,
    issue,
    load_ca,
    new_file_token,
    read_token_file,
    write_pem,
    write_secret,
    write_tokens_file,
)

# etcd trusts a CA of its own (certs/etcd/), kept across runs like the cluster's: a client
# certificate from the cluster CA — every node's, the gateway's, and the one agents hand
# to managed workloads — reads and writes nothing in etcd. Only the controllers (and the
# CLI, for etcd's health) hold one from etcd's CA.
ETCD_DIR = "etcd"

# The controller's certificate names localhost and 127.0.0.1; a multi-replica target
# ("ipv4:a,b") is no host name, so clients check for this one.
SERVER_NAME = "localhost"
DEMO_NAMESPACE = "default"
GATEWAY_NAME = "gateway"  # the local aiwo-gateway's name, and its certificate's


@dataclass(frozen=True)
class LocalCredentials:
    directory: Path
    pki: PkiLayout
    tokens_file: Path
    admin_token_file: Path
    workload_token_file: Path

    @classmethod
    def prepare(cls, state_dir: Path, nodes: Sequence[str]) -> LocalCredentials:
        directory = state_dir / "secure"
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        pki = init_pki(
            directory / "certs", nodes, (SERVER_NAME, "127.0.0.1"), gateways=[GATEWAY_NAME]
        )
        _prepare_etcd_pki(pki.directory / ETCD_DIR)
        admin, admin_record = new_file_token("admin", description="aiwo up --secure: the CLI")
        workload, workload_record = new_file_token(
            "workload", [DEMO_NAMESPACE], description="aiwo up --secure: demo workloads"
        )
        credentials = cls(
            directory,
            pki,
            directory / "tokens.json",
            directory / "admin.token",
            directory / "workload.token",
        )
        write_tokens_file(credentials.tokens_file, [admin_record, workload_record])
        write_secret(credentials.admin_token_file, admin)
        write_secret(credentials.workload_token_file, workload)
        return credentials

    def controller_args(self) -> list[str]:
        pki = self.pki
        return [
            "--tls-cert", str(pki.controller_cert),
            "--tls-key", str(pki.controller_key),
            "--tls-ca", str(pki.ca_cert),
            "--tls-crl", str(pki.directory / "crl.pem"),  # `aiwo certs revoke` adds to it
            "--auth", "token",
            "--tokens-file", str(self.tokens_file),
            # To etcd: TLS, with a client certificate from etcd's own CA.
            "--etcd-ca", str(self.etcd_dir / "ca.pem"),
            "--etcd-cert", str(self.etcd_dir / "controller.pem"),
            "--etcd-key", str(self.etcd_dir / "controller-key.pem"),
            "--etcd-server-name", SERVER_NAME,
        ]  # fmt: skip

    def etcd_args(self) -> list[str]:
        """Every etcd member: TLS for clients and peers, certificates from etcd's own CA
        required (not the cluster CA's, which every node, gateway and workload holds)."""
        ca, cert, key = (
            self.etcd_dir / "ca.pem",
            self.etcd_dir / "member.pem",
            self.etcd_dir / "member-key.pem",
        )
        return [
            "--cert-file", str(cert), "--key-file", str(key),
            "--trusted-ca-file", str(ca), "--client-cert-auth",
            "--peer-cert-file", str(cert), "--peer-key-file", str(key),
            "--peer-trusted-ca-file", str(ca), "--peer-client-cert-auth",
        ]  # fmt: skip

    @property
    def etcd_dir(self) -> Path:
        return self.pki.directory / ETCD_DIR

    def agent_args(self, node: str) -> list[str]:
        cert, key = self.pki.node_certs[node]
        return [
            "--tls-cert", str(cert),
            "--tls-key", str(key),
            "--tls-ca", str(self.pki.ca_cert),
            "--tls-server-name", SERVER_NAME,
            # For the workloads it starts (with a token it asks the controller for).
            "--workload-tls-cert", str(self.pki.client_cert),
            "--workload-tls-key", str(self.pki.client_key),
        ]  # fmt: skip

    def gateway_args(self) -> list[str]:
        """aiwo-gateway: its own certificate, so the controller gives it the gateway role
        (GatewayService's streams) and nothing else; no token."""
        cert, key = self.pki.gateway_certs[GATEWAY_NAME]
        return [
            "--tls-cert", str(cert),
            "--tls-key", str(key),
            "--tls-ca", str(self.pki.ca_cert),
            "--tls-server-name", SERVER_NAME,
        ]  # fmt: skip

    def client_env(self, token_file: Path) -> dict[str, str]:
        """For a child process using the SDK: the CLI's certificate and a token file."""
        return {
            "AIWO_TLS_CA": str(self.pki.ca_cert),
            "AIWO_TLS_CERT": str(self.pki.client_cert),
            "AIWO_TLS_KEY": str(self.pki.client_key),
            "AIWO_TLS_SERVER_NAME": SERVER_NAME,
            "AIWO_TOKEN_FILE": str(token_file),
        }

    def record(self) -> dict[str, str]:
        """cluster.json "credentials": paths only, which the SDK and the CLI read (and a
        gateway started by hand next to this cluster: its own certificate, no token)."""
        gateway_cert, gateway_key = self.pki.gateway_certs[GATEWAY_NAME]
        return {
            "ca": str(self.pki.ca_cert),
            "cert": str(self.pki.client_cert),
            "key": str(self.pki.client_key),
            "server_name": SERVER_NAME,
            "token_file": str(self.admin_token_file),
            "gateway_cert": str(gateway_cert),
            "gateway_key": str(gateway_key),
            # `aiwo cluster status` asks etcd for its health with these.
            "etcd_ca": str(self.etcd_dir / "ca.pem"),
            "etcd_cert": str(self.etcd_dir / "cli.pem"),
            "etcd_key": str(self.etcd_dir / "cli-key.pem"),
        }

    def admin_config(self) -> ClientConfig:
        return ClientConfig(
            token=read_token_file(str(self.admin_token_file)),
            tls=TlsConfig(
                str(self.pki.ca_cert),
                str(self.pki.client_cert),
                str(self.pki.client_key),
                SERVER_NAME,
            ),
        )


def _prepare_etcd_pki(directory: Path) -> None:
    """etcd's CA (kept when there), its members' certificate (serving clients and, as peers,
    each other), and client certificates for the controllers and the CLI."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "ca.pem").exists() and (directory / "ca-key.pem").exists():
        ca = load_ca(directory)
    else:
        ca = create_ca("aiwo etcd CA")
        write_pem(directory / "ca.pem", ca.cert_pem, private=False)
        write_pem(directory / "ca-key.pem", ca.key_pem, private=True)
    member = issue(
        ca, "aiwo-etcd", dns_names=[SERVER_NAME], ip_addresses=["127.0.0.1"],
        server=True, client=True,
    )  # fmt: skip
    issued = {"member": member}
    for holder in ("controller", "cli"):
        issued[holder] = issue(ca, f"aiwo-etcd-{holder}", client=True)
    for stem, pair in issued.items():
        write_pem(directory / f"{stem}.pem", pair.cert_pem, private=False)
        write_pem(directory / f"{stem}-key.pem", pair.key_pem, private=True)
