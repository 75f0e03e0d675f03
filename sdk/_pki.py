"""A small certificate authority for aiwo clusters, built on `cryptography`.

`aiwo certs init` and `aiwo up --secure` use it; production clusters may use any CA as
long as the certificates carry the same names:

- the controller's certificate names every address clients dial (DNS and IP SANs);
- an agent's certificate names its node with the URI SAN `aiwo://node/NAME` (and CN=NAME
  for people reading it): the controller reads the node name from the URI only, so no
  other certificate (a CLI's, say) can ever pass as a node;
- a client certificate (the CLI, applications) carries `aiwo://client/NAME`;
- an aiwo-gateway's carries `aiwo://gateway/NAME`: the controller gives it the `gateway`
  role (GatewayService's two streams, nothing else), whatever token comes with it.

Keys are ECDSA P-256: a few milliseconds to generate (RSA-3072 takes a large fraction of a
second, which adds up in tests), and supported by every gRPC TLS stack.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NODE_URI_PREFIX = "aiwo://node/"
CLIENT_URI_PREFIX = "aiwo://client/"
GATEWAY_URI_PREFIX = "aiwo://gateway/"
CA_DAYS = 3650
LEAF_DAYS = 365
CRL_DAYS = 3650  # the controller does not enforce next_update (a stale CRL must not lock out)
# Certificates start a few minutes in the past so that a host whose clock runs slightly
# behind the CA's does not reject a certificate minted a moment ago.
BACKDATE = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class PkiLayout:
    """Where `init_pki` wrote each file (all PEM)."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    controller_cert: Path
    controller_key: Path
    client_cert: Path
    client_key: Path
    node_certs: dict[str, tuple[Path, Path]] = field(default_factory=dict)  # name -> cert, key
    gateway_certs: dict[str, tuple[Path, Path]] = field(default_factory=dict)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def create_ca(common_name: str = "aiwo CA", days: int = CA_DAYS) -> Issued:
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(_cert_pem(cert), _key_pem(key))


def issue(
    ca: Issued,
    common_name: str,
    *,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    uris: Sequence[str] = (),
    server: bool = False,
    client: bool = False,
    days: int = LEAF_DAYS,
) -> Issued:
    """A leaf certificate signed by `ca`, for TLS server and/or client use."""
    if not (server or client):
        raise ValueError("a certificate must be for server or client use (or both)")
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key must be an ECDSA key")
    key = _new_key()
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    sans += [x509.UniformResourceIdentifier(uri) for uri in uris]
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
    usages += [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Issued(_cert_pem(cert), _key_pem(key))


def issue_controller(
    ca: Issued, hosts: Iterable[str] = ("localhost", "127.0.0.1"), days: int = LEAF_DAYS
) -> Issued:
    """The controller's serving certificate; `hosts` are the names and IPs clients dial."""
    dns, ips = _split_hosts(hosts)
    # Also a client certificate: a follower forwarding a write to the leader is a client.
    return issue(
        ca, "aiwo-controller", dns_names=dns, ip_addresses=ips, server=True, client=True, days=days
    )


def issue_node(ca: Issued, node: str, days: int = LEAF_DAYS) -> Issued:
    return issue(ca, node, uris=[NODE_URI_PREFIX + node], client=True, days=days)


def issue_client(ca: Issued, name: str = "cli", days: int = LEAF_DAYS) -> Issued:
    return issue(ca, f"aiwo-{name}", uris=[CLIENT_URI_PREFIX + name], client=True, days=days)


def issue_gateway(ca: Issued, name: str, days: int = LEAF_DAYS) -> Issued:
    """An aiwo-gateway's client certificate: URI aiwo://gateway/NAME and nothing else."""
    uris = [GATEWAY_URI_PREFIX + name]
    return issue(ca, f"aiwo-gateway-{name}", uris=uris, client=True, days=days)


def revoke(
    ca: Issued, certs: Sequence[bytes], crl_pem: bytes | None = None, days: int = CRL_DAYS
) -> bytes:
    """A CRL signed by `ca`: what `crl_pem` already revoked, plus `certs` (PEM).

    Each certificate must be one `ca` issued: a CRL speaks only for its own issuer.
    """
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key must be an ECDSA key")
    now = _now()
    entries: dict[int, x509.RevokedCertificate] = {}
    if crl_pem:
        old = x509.load_pem_x509_crl(crl_pem)
        if old.issuer != ca_cert.subject or not old.is_signature_valid(ca_key.public_key()):
            raise ValueError("the existing CRL was not signed by this CA")
        entries = {entry.serial_number: entry for entry in old}
    for pem in certs:
        cert = x509.load_pem_x509_certificate(pem)
        if cert.issuer != ca_cert.subject:
            raise ValueError(
                f"certificate {cert.subject.rfc4514_string()} was issued by "
                f"{cert.issuer.rfc4514_string()}, not by this CA"
            )
        if cert.serial_number not in entries:
            entries[cert.serial_number] = (
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(now)
                .build()
            )
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - BACKDATE)
        .next_update(now + datetime.timedelta(days=days))
    )
    for entry in sorted(entries.values(), key=lambda e: e.serial_number):
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _split_hosts(hosts: Iterable[str]) -> tuple[list[str], list[str]]:
    dns: list[str] = []
    ips: list[str] = []
    for host in hosts:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            dns.append(host)
        else:
            ips.append(host)
    return dns, ips


def node_names(cert_pem: bytes) -> list[str]:
    """The node names a certificate carries as `aiwo://node/NAME` URI SANs."""
    return _uri_names(cert_pem, NODE_URI_PREFIX)


def gateway_names(cert_pem: bytes) -> list[str]:
    """The gateway names a certificate carries as `aiwo://gateway/NAME` URI SANs."""
    return _uri_names(cert_pem, GATEWAY_URI_PREFIX)


def _uri_names(cert_pem: bytes, prefix: str) -> list[str]:
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    return [uri.removeprefix(prefix) for uri in uris if uri.startswith(prefix)]


def write_pem(path: Path, data: bytes, *, private: bool) -> None:
    """Write atomically; a private key is created 0600 so it is never readable by others,
    not even for the moment between write and chmod."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)


def _write_pair(directory: Path, stem: str, issued: Issued) -> tuple[Path, Path]:
    cert, key = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
    write_pem(cert, issued.cert_pem, private=False)
    write_pem(key, issued.key_pem, private=True)
    return cert, key


def load_ca(directory: Path) -> Issued:
    return Issued((directory / "ca.pem").read_bytes(), (directory / "ca-key.pem").read_bytes())


def init_pki(
    directory: Path,
    nodes: Sequence[str] = (),
    controller_hosts: Sequence[str] = ("localhost", "127.0.0.1"),
    *,
    reuse_ca: bool = True,
    gateways: Sequence[str] = (),
) -> PkiLayout:
    """CA (kept when one is there and `reuse_ca`), controller, CLI, one cert per node and
    one per gateway.

    Layout: ca.pem, ca-key.pem, crl.pem (revoked certificates; `aiwo certs revoke`),
    controller.pem, controller-key.pem, cli.pem, cli-key.pem, nodes/NAME.pem, nodes/NAME-key.pem,
    gateways/NAME.pem, gateways/NAME-key.pem.
    """
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    kept = reuse_ca and (directory / "ca.pem").exists() and (directory / "ca-key.pem").exists()
    if kept:
        ca = load_ca(directory)
    else:
        ca = create_ca()
        _write_pair(directory, "ca", ca)
    controller_cert, controller_key = _write_pair(
        directory, "controller", issue_controller(ca, controller_hosts)
    )
    client_cert, client_key = _write_pair(directory, "cli", issue_client(ca, "cli"))
    crl = directory / "crl.pem"
    if not kept or not crl.exists():  # a kept CA keeps what it revoked
        write_pem(crl, revoke(ca, []), private=False)
    layout = PkiLayout(
        directory,
        directory / "ca.pem",
        directory / "ca-key.pem",
        controller_cert,
        controller_key,
        client_cert,
        client_key,
    )
    for node in nodes:
        layout.node_certs[node] = _write_pair(directory / "nodes", node, issue_node(ca, node))
    for gateway in gateways:
        layout.gateway_certs[gateway] = _write_pair(
            directory / "gateways", gateway, issue_gateway(ca, gateway)
        )
    return layout
