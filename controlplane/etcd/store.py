"""etcd access: fenced transactions, leader election, prefix listing and watching.

Every write the controller makes is one transaction that also compares the leader key's
create revision with the epoch this controller won: a deposed leader changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import aetcd
import aetcd.exceptions
import aetcd.rpc
import aetcd.watcher
import grpc
import grpc.aio
import structlog

from controlplane.etcd.keys import Keys

log = structlog.get_logger("aiwo.store")

T = TypeVar("T")

# etcd's default --max-txn-ops is 128; stay under it.
MAX_TXN_OPS = 120


class FencingError(Exception):
    """The leader key no longer carries our epoch: another controller leads now."""


class StoreUnavailable(Exception):
    """No etcd endpoint answered."""


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int


@dataclass(frozen=True, slots=True)
class WatchEvent:
    key: str
    value: bytes | None  # None = deleted
    revision: int


@dataclass(frozen=True, slots=True)
class Write:
    """One operation of a fenced transaction: a put (value set) or a delete (value None)."""

    key: str
    value: bytes | None
    lease: int | None = None


@dataclass(frozen=True, slots=True)
class EtcdTls:
    """TLS to etcd: the CA of its members' certificates, the client certificate (when etcd
    runs with --client-cert-auth) and the name the members' certificates carry."""

    ca: bytes
    cert: bytes | None = None
    key: bytes | None = None
    server_name: str = ""

    @classmethod
    def load(cls, ca: str, cert: str = "", key: str = "", server_name: str = "") -> EtcdTls:
        def read(path: str) -> bytes:
            try:
                return Path(path).read_bytes()
            except OSError as exc:
                raise StoreUnavailable(f"etcd TLS file {path}: {exc.strerror or exc}") from None

        return cls(read(ca), read(cert) if cert else None, read(key) if key else None, server_name)


class _TlsClient(aetcd.Client):
    """aetcd's client over a TLS channel (aetcd opens only plaintext ones).

    `connect` is aetcd 1.0's own (client.py), with the channel made by secure_channel; the
    version is pinned by the test that exercises it (tests/controlplane/test_store.py)."""

    def __init__(self, tls: EtcdTls, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._credentials = grpc.ssl_channel_credentials(tls.ca, tls.key, tls.cert)
        if tls.server_name:
            options = dict(self._options)  # type: ignore[has-type]
            options["grpc.ssl_target_name_override"] = tls.server_name
            self._options = options

    async def connect(self) -> None:
        if self._connected.is_set():
            return
        if self._is_connecting:  # type: ignore[has-type]
            await asyncio.wait_for(self._connected.wait(), self._connect_wait_timeout)
            return
        try:
            self._is_connecting = True
            target = f"{self._host}:{self._port}"
            self.channel = grpc.aio.secure_channel(
                target, self._credentials, options=list(self._options.items())
            )
            self.kvstub = aetcd.rpc.KVStub(self.channel)
            self.clusterstub = aetcd.rpc.ClusterStub(self.channel)
            self.leasestub = aetcd.rpc.LeaseStub(self.channel)
            self.maintenancestub = aetcd.rpc.MaintenanceStub(self.channel)
            self._watcher = aetcd.watcher.Watcher(
                aetcd.rpc.WatchStub(self.channel), timeout=self._timeout, metadata=self.metadata
            )
            self._connected.set()
        finally:
            self._is_connecting = False


def resolve_endpoints(endpoints: Sequence[str]) -> list[str]:
    """HOST:PORT endpoints as IPv4 ADDRESS:PORT, the form one multi-member channel takes.

    Host names (etcd-1.internal:2379) are resolved here, once per connect; every address a
    name has becomes a member of the channel's list. A name that does not resolve is named."""
    resolved: list[str] = []
    for endpoint in endpoints:
        host, _, port = endpoint.rpartition(":")
        try:
            ipaddress.IPv4Address(host)
            addresses = [host]
        except ValueError:
            try:
                infos = socket.getaddrinfo(host, int(port), socket.AF_INET, socket.SOCK_STREAM)
            except OSError as exc:
                raise StoreUnavailable(
                    f"etcd endpoint {endpoint}: cannot resolve {host}: {exc}"
                ) from None
            addresses = sorted({str(info[4][0]) for info in infos})
        for address in addresses:
            if f"{address}:{port}" not in resolved:
                resolved.append(f"{address}:{port}")
    return resolved


class EtcdStore:
    def __init__(
        self,
        endpoints: Sequence[str],
        keys: Keys,
        timeout_s: float = 5.0,
        tls: EtcdTls | None = None,
    ) -> None:
        self._endpoints = list(endpoints)
        self._tls = tls
        self._keys = keys
        self.keys = keys
        self._timeout_s = timeout_s
        self._client: aetcd.Client | None = None
        self.epoch = 0  # create revision of our leader key; 0 = not leader

    @property
    def client(self) -> aetcd.Client:
        if self._client is None:
            raise StoreUnavailable("not connected to etcd")
        return self._client

    async def connect(self) -> None:
        """One channel to all members: gRPC's pick_first moves to the next member by itself
        when the one in use goes away, so a dead member costs one failed call, retried."""
        addresses = await asyncio.to_thread(resolve_endpoints, self._endpoints)
        target = "ipv4:" + ",".join(addresses)
        host, _, port = target.rpartition(":")
        # aetcd builds its target as f"{host}:{port}"; splitting at the last colon keeps it.
        settings: dict[str, Any] = {
            "host": host,
            "port": int(port),
            "timeout": int(self._timeout_s),
            "options": {
                "grpc.keepalive_time_ms": 5_000,
                "grpc.keepalive_timeout_ms": 3_000,
                "grpc.keepalive_permit_without_calls": 1,
                "grpc.initial_reconnect_backoff_ms": 200,
                "grpc.max_reconnect_backoff_ms": 2_000,
            },
        }
        if self._tls is not None:
            # The members' certificates name their hosts, not the addresses dialled.
            name = self._tls.server_name or self._endpoints[0].rpartition(":")[0]
            client: aetcd.Client = _TlsClient(replace(self._tls, server_name=name), **settings)
        else:
            client = aetcd.Client(**settings)
        try:
            await client.connect()
            await asyncio.wait_for(client.status(), self._timeout_s)
        except (aetcd.exceptions.ClientError, TimeoutError, OSError) as exc:
            with contextlib.suppress(Exception):
                await client.close()
            raise StoreUnavailable(
                f"no etcd endpoint answered ({', '.join(self._endpoints)}): "
                f"{exc or type(exc).__name__}"
            ) from None
        self._client = client
        log.info("etcd_connected", endpoints=",".join(self._endpoints))

    async def _retry(
        self, operation: Callable[[], Awaitable[T]], attempts: int = 6, fenced: bool = False
    ) -> T:
        """Retry an operation that failed because a member went away (idempotent ops only).

        Six attempts back off over ~3 s: enough for the etcd members to elect a new leader
        when the one that went away was leading (election timeout 1 s by default). A fenced
        write stops retrying once this controller no longer leads (its lease could not be
        kept: etcd without quorum), so the caller hears so in seconds, not after every
        attempt's timeout."""
        delay_s = 0.1
        # A write etcd did not answer may still commit once it recovers (the proposal was in
        # flight): the caller must not be told that nothing changed.
        unknown = "; the change may still be applied when etcd recovers" if fenced else ""
        for attempt in range(attempts):
            if fenced and attempt and self.epoch <= 0:
                raise StoreUnavailable(
                    f"etcd did not answer and this controller's lease ran out (no quorum?){unknown}"
                )
            try:
                return await operation()
            except (
                aetcd.exceptions.ConnectionFailedError,
                aetcd.exceptions.ConnectionTimeoutError,
            ) as exc:
                if attempt == attempts - 1:
                    raise StoreUnavailable(f"{exc or type(exc).__name__}{unknown}") from exc
                await asyncio.sleep(delay_s)
                delay_s *= 2
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
            self._client = None

    # ------------------------------------------------------------ reads

    async def list_prefix(self, prefix: str) -> tuple[int, list[KeyValue]]:
        """All keys under `prefix`, and the store revision they were read at."""
        result = await self._retry(lambda: self.client.get_prefix(prefix.encode()))
        items = [
            KeyValue(kv.key.decode(), kv.value, kv.mod_revision, kv.create_revision)
            for kv in result.kvs
        ]
        return result.header.revision, items

    async def get(self, key: str) -> KeyValue | None:
        kv = await self._retry(lambda: self.client.get(key.encode()))
        if kv is None:
            return None
        return KeyValue(kv.key.decode(), kv.value, kv.mod_revision, kv.create_revision)

    async def watch_prefix(self, prefix: str, start_revision: int) -> AsyncIterator[WatchEvent]:
        watch = await self.client.watch_prefix(prefix.encode(), start_revision=start_revision)
        try:
            async for event in watch:
                value = event.kv.value if event.kind == "PUT" else None
                yield WatchEvent(event.kv.key.decode(), value, event.kv.mod_revision)
        finally:
            with contextlib.suppress(Exception):
                await watch.cancel()

    # ------------------------------------------------------------ fenced writes

    async def commit(self, writes: Sequence[Write]) -> None:
        """Apply `writes` atomically (in chunks of MAX_TXN_OPS), fenced by our epoch."""
        if not writes:
            return
        if self.epoch <= 0:
            raise FencingError("this controller is not the leader")
        tx = self.client.transactions
        for start in range(0, len(writes), MAX_TXN_OPS):
            chunk = writes[start : start + MAX_TXN_OPS]
            ops = [
                tx.put(w.key.encode(), w.value, lease=w.lease)
                if w.value is not None
                else tx.delete(w.key.encode())
                for w in chunk
            ]
            # Replaying a fenced batch is safe: puts and deletes are idempotent.
            succeeded, _ = await self._retry(
                lambda ops=ops: self.client.transaction(  # type: ignore[misc]
                    compare=[tx.create(self._keys.leader.encode()) == self.epoch],
                    success=ops,
                    failure=[],
                ),
                fenced=True,
            )
            if not succeeded:
                self.epoch = 0
                raise FencingError("leader key changed: this controller was deposed")

    # ------------------------------------------------------------ leases and election

    async def grant_lease(self, ttl_s: int) -> int:
        lease = await self.client.lease(ttl_s)
        return int(lease.id)

    async def keep_alive(self, lease_id: int) -> bool:
        """Refresh a lease once; False when it has expired."""
        reply = await self.client.refresh_lease(lease_id)
        return reply is not None and reply.TTL > 0

    async def revoke(self, lease_id: int) -> None:
        with contextlib.suppress(Exception):
            await self.client.revoke_lease(lease_id)

    async def try_acquire(self, value: bytes, lease_id: int) -> int:
        """Create the leader key if absent. Returns our epoch, or 0 if someone else leads."""
        tx = self.client.transactions
        key = self._keys.leader.encode()
        succeeded, _ = await self.client.transaction(
            compare=[tx.create(key) == 0],
            success=[tx.put(key, value, lease=lease_id)],
            failure=[],
        )
        if not succeeded:
            return 0
        kv = await self.client.get(key)
        if kv is None or kv.lease != lease_id:
            return 0
        self.epoch = int(kv.create_revision)
        return self.epoch
