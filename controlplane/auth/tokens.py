"""Token records: etcd under {prefix}/tokens/{id}, plus an optional tokens file.

etcd holds the tokens minted through AuthService, so every controller replica sees them
and a revocation reaches all of them through the watch. The tokens file (JSON, hashed
records, see sdk/_tokens.py) holds the tokens that must work before any can be minted —
the first admin's. Lookups are in memory: the etcd records come from a watch-fed cache,
the file is re-read when its modification time changes (checked at most once a second).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from controlplane.auth.principal import Principal
from controlplane.etcd.cache import PrefixCache
from controlplane.etcd.store import EtcdStore, Write
from sdk import _tokens
from sdk.pb.aiwo.v1 import auth_pb2

log = structlog.get_logger("aiwo.auth")

FILE_CHECK_INTERVAL_S = 1.0


class AuthenticationError(Exception):
    """The caller is not authenticated; the message is safe to return (it holds no secret)."""


class TokenNotFound(KeyError):
    pass


class FileTokenImmutable(Exception):
    """A token from the tokens file cannot be changed through the API."""


@dataclass
class _FileState:
    path: Path | None
    mtime_ns: int = -1
    checked: float = 0.0
    records: dict[str, auth_pb2.TokenRecord] | None = None


class TokenStore:
    def __init__(self, store: EtcdStore, prefix: str, tokens_file: str = "") -> None:
        self._store = store
        self._prefix = f"{prefix}/tokens/"
        self._cache: PrefixCache[auth_pb2.TokenRecord] = PrefixCache(
            store, self._prefix, auth_pb2.TokenRecord
        )
        self._file = _FileState(Path(tokens_file) if tokens_file else None)

    async def start(self) -> None:
        self._reload_file(time.time(), force=True)
        await self._cache.start()

    async def stop(self) -> None:
        await self._cache.stop()

    # ------------------------------------------------------------ authenticate

    def authenticate(self, token: str, now: float | None = None) -> Principal:
        now = time.time() if now is None else now
        token_id = _tokens.token_id_of(token)
        if token_id is None:
            raise AuthenticationError("malformed token (expected aiwo_<id>_<secret>)")
        record = self._lookup(token_id, now)
        if record is None or not _tokens.matches(token, record.sha256):
            raise AuthenticationError("unknown token")
        info = record.info
        if info.revoked:
            raise AuthenticationError(f"token {token_id} was revoked")
        if info.expires_unix and now >= info.expires_unix:
            raise AuthenticationError(f"token {token_id} has expired")
        return Principal("token", token_id, info.role, tuple(info.namespaces))

    def _lookup(self, token_id: str, now: float) -> auth_pb2.TokenRecord | None:
        record = self._cache.get(token_id)
        if record is not None:
            return record
        self._reload_file(now)
        return (self._file.records or {}).get(token_id)

    # ------------------------------------------------------------ the tokens file

    def _reload_file(self, now: float, force: bool = False) -> None:
        state = self._file
        if state.path is None or (not force and now - state.checked < FILE_CHECK_INTERVAL_S):
            return
        state.checked = now
        try:
            mtime_ns = state.path.stat().st_mtime_ns
        except OSError:
            mtime_ns = 0
        if mtime_ns == state.mtime_ns and state.records is not None:
            return
        try:
            records = _tokens.read_tokens_file(state.path)
        except _tokens.TokenError as exc:
            # Keep the tokens we had: a half-edited file must not lock every admin out.
            log.error("tokens_file_unreadable", path=str(state.path), error=str(exc))
            return
        state.mtime_ns = mtime_ns
        state.records = {r.id: _from_file(r) for r in records}
        log.info("tokens_file_loaded", path=str(state.path), tokens=len(records))

    # ------------------------------------------------------------ manage

    def infos(self, now: float | None = None) -> list[auth_pb2.TokenInfo]:
        self._reload_file(time.time() if now is None else now)
        infos = [r.info for r in self._cache.values()]
        infos += [r.info for r in (self._file.records or {}).values()]
        return sorted(infos, key=lambda info: (info.created_unix, info.id))

    async def create(
        self,
        role: str,
        namespaces: list[str],
        ttl_s: float,
        description: str,
        created_by: str,
        now: float | None = None,
        workload: str = "",
        node: str = "",
    ) -> tuple[str, auth_pb2.TokenInfo]:
        """Mint, store the hash (a fenced write: the leader's alone), return the token."""
        names = _tokens.check_request(role, namespaces, ttl_s)  # raises TokenError
        now = time.time() if now is None else now
        token_id, token = _tokens.mint()
        info = auth_pb2.TokenInfo(
            id=token_id,
            role=role,
            namespaces=list(names),
            created_unix=now,
            expires_unix=now + ttl_s if ttl_s else 0.0,
            description=description,
            created_by=created_by,
            source="etcd",
            workload=workload,
            node=node,
        )
        await self._put(auth_pb2.TokenRecord(info=info, sha256=_tokens.digest(token)))
        return token, info

    async def revoke(self, token_id: str, now: float | None = None) -> auth_pb2.TokenInfo:
        record = self._cache.get(token_id)
        if record is None:
            if token_id in (self._file.records or {}):
                raise FileTokenImmutable(token_id)
            raise TokenNotFound(token_id)
        if record.info.revoked:
            return record.info
        updated = auth_pb2.TokenRecord()
        updated.CopyFrom(record)
        updated.info.revoked = True
        updated.info.revoked_unix = time.time() if now is None else now
        await self._put(updated)
        return updated.info

    async def delete(self, token_ids: list[str]) -> None:
        """Delete etcd records (the sweep's, for tokens long revoked or expired)."""
        if not token_ids:
            return
        await self._store.commit([Write(self._prefix + token_id, None) for token_id in token_ids])
        for token_id in token_ids:
            self._cache.apply_local(token_id, None)

    async def _put(self, record: auth_pb2.TokenRecord) -> None:
        await self._store.commit([Write(self._prefix + record.info.id, record.SerializeToString())])
        # Seen at once by this replica; the others through their watch.
        self._cache.apply_local(record.info.id, record)


def _from_file(record: _tokens.FileToken) -> auth_pb2.TokenRecord:
    info = record.info_pb()
    try:
        sha256 = bytes.fromhex(record.sha256)
    except ValueError:
        sha256 = b""  # matches no token
    return auth_pb2.TokenRecord(info=info, sha256=sha256)
