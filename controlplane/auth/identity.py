"""A node's identity: the `aiwo://node/NAME` URI in the client certificate it connected with.

gRPC has already verified the certificate against the controller's CA when these
properties are present (the port requires and verifies client certificates), so reading
the auth context is enough. Only the URI counts — not the CN, not a DNS name — so a
certificate issued for anything else (the CLI, the controller) never passes as a node.
"""

from __future__ import annotations

import grpc

from sdk._pki import GATEWAY_URI_PREFIX, NODE_URI_PREFIX

__all__ = ["GATEWAY_URI_PREFIX", "gateway_of", "node_of", "peer_certificate", "peer_subject"]

_SAN = "x509_subject_alternative_name"


def node_of(context: grpc.aio.ServicerContext) -> str | None:
    """The node the peer's certificate names; None without a certificate or with several."""
    return _named(context, NODE_URI_PREFIX)


def gateway_of(context: grpc.aio.ServicerContext) -> str | None:
    """The gateway the peer's certificate names (URI aiwo://gateway/NAME), else None."""
    return _named(context, GATEWAY_URI_PREFIX)


def _named(context: grpc.aio.ServicerContext, prefix: str) -> str | None:
    try:
        auth = context.auth_context()
    except Exception:  # pragma: no cover - plaintext connections still have an auth context
        return None
    names = {
        value.decode(errors="replace").removeprefix(prefix)
        for value in auth.get(_SAN, [])
        if value.startswith(prefix.encode())
    }
    # A certificate naming two nodes could speak for either: treat it as naming none.
    return names.pop() if len(names) == 1 else None


def peer_subject(context: grpc.aio.ServicerContext) -> str:
    """For log lines about refused callers: the certificate's CN, if any."""
    try:
        values = context.auth_context().get("x509_common_name", [])
    except Exception:  # pragma: no cover
        return ""
    return values[0].decode(errors="replace") if values else ""


def peer_certificate(context: grpc.aio.ServicerContext) -> bytes | None:
    """The peer's certificate (PEM) as gRPC verified it; None on a plaintext connection."""
    try:
        values = context.auth_context().get("x509_pem_cert", [])
    except Exception:  # pragma: no cover
        return None
    return values[0] if values else None
