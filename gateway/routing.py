"""Pure request plumbing: which service a path names, and which headers travel on.

`/s/NAMESPACE/NAME/PATH?QUERY` goes to a replica as `/PATH?QUERY`, bytes unchanged (the raw,
still-encoded path: a proxy that decodes and re-encodes changes what the replica sees).
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.endpoints import ServiceKey

PATH_FORM = "/s/NAMESPACE/NAME/PATH"

# RFC 9110 §7.6.1: connection-specific headers end at each hop; so do any the Connection
# header names. Host is set for the replica's own address; Content-Length is recomputed.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_REQUEST_DROP = HOP_BY_HOP | {"host", "content-length", "expect"}
_RESPONSE_DROP = HOP_BY_HOP | {"content-length"}


def parse_target(raw_path: str) -> tuple[ServiceKey, str] | None:
    """((namespace, name), "/PATH?QUERY") for a gateway path, or None for any other."""
    path, sep, query = raw_path.partition("?")
    parts = path.split("/", 4)  # "", "s", NAMESPACE, NAME, PATH...
    if len(parts) < 4 or parts[0] != "" or parts[1] != "s" or not parts[2] or not parts[3]:
        return None
    rest = "/" + (parts[4] if len(parts) == 5 else "")
    return (parts[2], parts[3]), rest + (sep + query if sep else "")


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    tokens: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def request_headers(
    headers: Iterable[tuple[str, str]], client_ip: str | None, host: str | None, scheme: str
) -> list[tuple[str, str]]:
    """The client's headers as the replica gets them, with X-Forwarded-* added."""
    items = list(headers)
    drop = _REQUEST_DROP | _connection_tokens(items)
    out: list[tuple[str, str]] = []
    forwarded_for: list[str] = []
    for name, value in items:
        lower = name.lower()
        if lower in drop:
            continue
        if lower == "x-forwarded-for":
            forwarded_for.append(value)
            continue
        if lower in ("x-forwarded-host", "x-forwarded-proto"):
            continue  # this hop's values replace what a client claimed
        out.append((name, value))
    if client_ip:
        forwarded_for.append(client_ip)
    if forwarded_for:
        out.append(("X-Forwarded-For", ", ".join(forwarded_for)))
    if host:
        out.append(("X-Forwarded-Host", host))
    out.append(("X-Forwarded-Proto", scheme))
    return out


def response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The replica's headers as the client gets them (framing is this hop's own)."""
    items = list(headers)
    drop = _RESPONSE_DROP | _connection_tokens(items)
    return [(name, value) for name, value in items if name.lower() not in drop]
