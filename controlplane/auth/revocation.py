"""Revoked client certificates: the CRL file (`tls_crl`), re-read when it changes.

gRPC verifies a peer's chain against `tls_ca` but takes no CRL, so the auth interceptor
asks here on every call and on every message of a stream: a revoked certificate is refused
at its next call, and an open stream (an agent's, an application's) ends at its next
message, within a telemetry interval for an agent.

The file holds one or more PEM CRLs (one per CA of the `tls_ca` bundle during a CA
rotation); each must be signed by a CA in that bundle. It is re-read when its modification
time changes, checked at most once a second; a file that becomes unreadable or invalid
keeps the revocations already loaded (logged), so a half-written update never lets a
revoked certificate back in. `next_update` is not enforced: an old CRL still revokes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path

import structlog
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

log = structlog.get_logger("aiwo.auth")

CHECK_INTERVAL_S = 1.0
_PARSED_KEPT = 4096  # peer certificates remembered, parsed (a few hundred bytes each)


class RevocationError(ValueError):
    """The CRL file cannot be used; the message names the file and why."""


class Revocations:
    def __init__(self, path: Path, ca_bundle: bytes) -> None:
        self.path = path
        try:
            self._cas = x509.load_pem_x509_certificates(ca_bundle)
        except ValueError as exc:
            raise RevocationError(f"tls_ca: no certificate could be read ({exc})") from None
        self._revoked: frozenset[tuple[bytes, int]] = frozenset()
        self._mtime_ns = -1
        self._checked = 0.0
        self._parsed: OrderedDict[bytes, tuple[bytes, int, str]] = OrderedDict()

    def load(self) -> None:
        """The first read, at start: a bad file stops the controller with the reason."""
        self._revoked, self._mtime_ns = self._read()
        self._checked = time.monotonic()
        log.info("crl_loaded", path=str(self.path), revoked=len(self._revoked))

    def reason(self, cert_pem: bytes) -> str | None:
        """Why this peer certificate is refused, or None when it is not revoked."""
        self._reload()
        if not self._revoked:
            return None
        issuer, serial, subject = self._identify(cert_pem)
        if (issuer, serial) not in self._revoked:
            return None
        return f"certificate {subject} (serial {serial:x}) was revoked"

    # ------------------------------------------------------------ reading

    def _reload(self) -> None:
        now = time.monotonic()
        if now - self._checked < CHECK_INTERVAL_S:
            return
        self._checked = now
        try:
            mtime_ns = self.path.stat().st_mtime_ns
        except OSError as exc:
            log.error("crl_unreadable", path=str(self.path), error=str(exc))
            return
        if mtime_ns == self._mtime_ns:
            return
        try:
            self._revoked, self._mtime_ns = self._read()
        except RevocationError as exc:
            log.error("crl_unreadable", path=str(self.path), error=str(exc))
            return
        log.info("crl_loaded", path=str(self.path), revoked=len(self._revoked))

    def _read(self) -> tuple[frozenset[tuple[bytes, int]], int]:
        try:
            mtime_ns = self.path.stat().st_mtime_ns
            data = self.path.read_bytes()
        except OSError as exc:
            raise RevocationError(f"tls_crl: {self.path}: {exc.strerror}") from None
        revoked: set[tuple[bytes, int]] = set()
        blocks = [b for b in data.split(b"-----END X509 CRL-----") if b.strip()]
        if not blocks:
            raise RevocationError(f"tls_crl: {self.path}: no CRL in it")
        for block in blocks:
            try:
                crl = x509.load_pem_x509_crl(block + b"-----END X509 CRL-----\n")
            except ValueError as exc:
                raise RevocationError(f"tls_crl: {self.path}: not a PEM CRL ({exc})") from None
            if not any(_signed_by(crl, ca) for ca in self._cas):
                raise RevocationError(
                    f"tls_crl: {self.path}: the CRL of {crl.issuer.rfc4514_string()} is not "
                    "signed by a CA in tls_ca"
                )
            issuer = crl.issuer.public_bytes()
            revoked.update((issuer, entry.serial_number) for entry in crl)
        return frozenset(revoked), mtime_ns

    def _identify(self, cert_pem: bytes) -> tuple[bytes, int, str]:
        known = self._parsed.get(cert_pem)
        if known is not None:
            self._parsed.move_to_end(cert_pem)
            return known
        cert = x509.load_pem_x509_certificate(cert_pem)
        known = (cert.issuer.public_bytes(), cert.serial_number, cert.subject.rfc4514_string())
        self._parsed[cert_pem] = known
        while len(self._parsed) > _PARSED_KEPT:
            self._parsed.popitem(last=False)
        return known


def _signed_by(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    key = ca.public_key()
    if ca.subject != crl.issuer or not isinstance(key, _SIGNING_KEYS):
        return False
    return crl.is_signature_valid(key)


# No DSA: cryptography deprecates it, and naming dsa.DSAPublicKey here warned on every
# start of every process that imports this (the warning buried `aiwo up`'s real errors).
# aiwo's CA signs with EC (sdk/cli/certs); a DSA-signed CRL is not trusted.
_SIGNING_KEYS = (
    ec.EllipticCurvePublicKey,
    rsa.RSAPublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
)
