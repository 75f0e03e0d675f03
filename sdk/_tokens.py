"""Bearer tokens: their format, their hash, and the tokens file.

A token reads `aiwo_<id>_<secret>`: the id (12 hex digits) is public — it names the token
in listings, logs and audit lines — and the secret is 32 random bytes. The `aiwo_` prefix
lets secret scanners recognise a leaked token. Only SHA-256(token) is ever stored: with
256 bits of randomness in the secret a plain hash is enough (no salt or slow KDF needed,
those defend guessable passwords).

The tokens file holds hashed records (JSON) for a controller that must accept a token
before anyone can mint one through the API: the first admin token, or `aiwo up --secure`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sdk._errors import AiwoError
from sdk.pb.aiwo.v1 import auth_pb2

PREFIX = "aiwo_"
ROLES = ("admin", "operator", "workload", "viewer", "gateway")
ALL_NAMESPACES = "*"
_TOKEN_RE = re.compile(r"^aiwo_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_NAMESPACE_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class TokenError(AiwoError, ValueError):
    """A token request is wrong (role, namespace, TTL); the message says which. A ValueError
    too, as it was before it joined the SDK's error family."""


def mint() -> tuple[str, str]:
    """A fresh (token_id, token)."""
    token_id = secrets.token_hex(6)
    return token_id, f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def token_id_of(token: str) -> str | None:
    """The id part of a well-formed token, else None."""
    match = _TOKEN_RE.match(token)
    return match.group(1) if match else None


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def matches(token: str, sha256: bytes) -> bool:
    # Constant time, so response timing tells nothing about how much of a guess was right.
    return hmac.compare_digest(digest(token), sha256)


def check_request(role: str, namespaces: Sequence[str], ttl_s: float) -> tuple[str, ...]:
    """Validate a token request; return its namespaces with defaults applied."""
    if role not in ROLES:
        raise TokenError(f"role: must be one of {', '.join(ROLES)}, got {role!r}")
    if ttl_s < 0:
        raise TokenError(f"ttl_s: must be >= 0 (0 = never expires), got {ttl_s}")
    names = tuple(dict.fromkeys(n.strip() for n in namespaces if n.strip()))
    if not names:
        if role == "workload":
            raise TokenError("namespaces: a workload token needs at least one namespace")
        names = (ALL_NAMESPACES,)
    for name in names:
        if name != ALL_NAMESPACES and not _NAMESPACE_RE.match(name):
            raise TokenError(f"namespaces: {name!r} is not a namespace name ([a-z0-9-], ≤ 63)")
    return names


@dataclass
class FileToken:
    """One record of the tokens file (JSON); the same fields as the API's TokenInfo."""

    id: str
    role: str
    sha256: str  # hex
    namespaces: list[str] = field(default_factory=lambda: [ALL_NAMESPACES])
    created_unix: float = 0.0
    expires_unix: float = 0.0  # 0 = never
    revoked: bool = False
    revoked_unix: float = 0.0
    description: str = ""

    def info_pb(self) -> auth_pb2.TokenInfo:
        """As the API describes a token (the hash stays out)."""
        return auth_pb2.TokenInfo(
            id=self.id,
            role=self.role,
            namespaces=list(self.namespaces),
            created_unix=self.created_unix,
            expires_unix=self.expires_unix,
            revoked=self.revoked,
            revoked_unix=self.revoked_unix,
            description=self.description,
            created_by="file",
            source="file",
        )


def new_file_token(
    role: str,
    namespaces: Sequence[str] = (),
    ttl_s: float = 0.0,
    description: str = "",
    now: float | None = None,
) -> tuple[str, FileToken]:
    """Mint a token and its record for the tokens file: (token, record)."""
    names = check_request(role, namespaces, ttl_s)
    now = time.time() if now is None else now
    token_id, token = mint()
    record = FileToken(
        id=token_id,
        role=role,
        sha256=digest(token).hex(),
        namespaces=list(names),
        created_unix=now,
        expires_unix=now + ttl_s if ttl_s else 0.0,
        description=description,
    )
    return token, record


def read_tokens_file(path: Path) -> list[FileToken]:
    """The records of a tokens file; a missing file has none. Raises TokenError if corrupt."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise TokenError(f"tokens file {path}: {exc}") from None
    try:
        return [FileToken(**item) for item in data.get("tokens", [])]
    except (TypeError, AttributeError) as exc:
        raise TokenError(f"tokens file {path}: bad record ({exc})") from None


def write_tokens_file(path: Path, records: Sequence[FileToken]) -> None:
    """Atomically, mode 0600: hashes are not secrets, but who holds which role is private."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"tokens": [asdict(r) for r in records]}, out, indent=2)
    tmp.replace(path)


def write_secret(path: Path, token: str) -> None:
    """A token for a program to read (AIWO_TOKEN_FILE), created 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    tmp.replace(path)
