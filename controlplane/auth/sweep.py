"""What the token sweep does to etcd's token records: pure, so the rules are tested alone.

Two rules, applied by the leader once a minute (TokenSweeper in controlplane/auth/sweeper.py):

- a managed workload's token (TokenInfo.workload set) is revoked once that workload is no
  longer placed on the node it was issued to (deregistered, moved, or evicted): the process
  it was minted for has been stopped, and a token nobody holds legitimately must not work;
- a record revoked or expired more than `retention_s` ago is deleted. Until then it stays
  listed (`aiwo tokens list`) so that an audit can still name it; after, it would only grow
  the key space: every restart of a managed workload mints a token.

File tokens are not etcd's and are never touched here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sdk.pb.aiwo.v1 import auth_pb2


@dataclass(frozen=True, slots=True)
class Revocation:
    token_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Sweep:
    revoke: tuple[Revocation, ...] = ()
    delete: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.revoke or self.delete)


def sweep(
    infos: Iterable[auth_pb2.TokenInfo],
    placed_on: Callable[[str], str | None],
    now: float,
    retention_s: float,
) -> Sweep:
    """The revocations and deletions due at `now`.

    `placed_on(workload)` is the node the workload is placed on, None when it is not placed
    (or no longer registered).
    """
    revoke: list[Revocation] = []
    delete: list[str] = []
    for info in infos:
        if info.source != "etcd":
            continue
        ended = _ended_unix(info, now)
        if ended is not None:
            if now - ended >= retention_s:
                delete.append(info.id)
            continue
        if info.workload:
            node = placed_on(info.workload)
            if node != info.node:
                where = f"now on node {node}" if node else "no longer placed"
                revoke.append(
                    Revocation(info.id, f"workload {info.workload} left node {info.node} ({where})")
                )
    return Sweep(tuple(revoke), tuple(delete))


def _ended_unix(info: auth_pb2.TokenInfo, now: float) -> float | None:
    """When the token stopped working, or None while it still works."""
    ends = [info.revoked_unix] if info.revoked else []
    if info.expires_unix and info.expires_unix <= now:
        ends.append(info.expires_unix)
    return min(ends) if ends else None
