"""The decision log: every decision is logged, counted, and kept (bounded, leased) in etcd.

Events are batched: `emit` records the event in memory at once and a flusher commits the
batch with one fenced transaction, under a lease so that the log expires by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import structlog

from controlplane.etcd.keys import Keys
from controlplane.etcd.store import EtcdStore, FencingError, Write
from controlplane.rpc.metrics import EVENTS
from controlplane.view.cluster import ClusterState
from sdk.pb.aiwo.v1 import types_pb2

log = structlog.get_logger("aiwo.events")


class EventLog:
    def __init__(
        self,
        store: EtcdStore,
        state: ClusterState,
        keys: Keys,
        kept: int,
        ttl_s: int,
        flush_interval_s: float = 0.25,
    ) -> None:
        self._store = store
        self._state = state
        self._keys = keys
        self._kept = kept
        self._ttl_s = ttl_s
        self._flush_interval_s = flush_interval_s
        self._pending: list[tuple[str, types_pb2.Event]] = []
        self._lease_id: int | None = None
        self._lease_granted = 0.0
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()

    def emit(
        self,
        kind: str,
        obj: str,
        message: str,
        now: float | None = None,
        **fields: object,
    ) -> types_pb2.Event:
        now = time.time() if now is None else now
        event = types_pb2.Event(
            id=uuid.uuid4().hex[:12],
            time_unix=now,
            kind=kind,
            object=obj,
            message=message,
            fields={k: _text(v) for k, v in fields.items()},
        )
        log.info(kind, object=obj, message=message, **{k: _text(v) for k, v in fields.items()})
        EVENTS.labels(kind=kind).inc()
        key = self._keys.event(int(now * 1e9), event.id)
        self._pending.append((key, event))
        self._state.events.apply_local(key[len(self._keys.events) :], event)
        self._wake.set()
        return event

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.flush()

    async def run_flusher(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self._flush_interval_s)
            try:
                await self.flush()
            except FencingError:
                self._pending.clear()  # a deposed leader's decisions are not recorded
            except Exception as exc:
                log.warning("event_flush_failed", error=str(exc))
                await asyncio.sleep(1.0)
                self._wake.set()

    async def flush(self) -> None:
        """Commit every event emitted so far. One flush at a time: a caller returns only
        once what it saw pending is stored, not while the flusher's batch is in flight."""
        async with self._flushing:
            if not self._pending or self._store.epoch <= 0:
                return
            lease = await self._lease()
            batch, self._pending = self._pending, []
            writes = [Write(key, event.SerializeToString(), lease=lease) for key, event in batch]
            excess = len(self._state.events) - self._kept
            if excess > 0:
                oldest = sorted(key for key, _ in self._state.events.items())[:excess]
                for suffix in oldest:
                    writes.append(Write(self._keys.events + suffix, None))
                    self._state.events.apply_local(suffix, None)
            try:
                await self._store.commit(writes)
            except FencingError:
                raise
            except Exception:
                # Kept for the next flush (puts are idempotent if this one did land), under
                # a fresh lease in case etcd lost this one.
                self._pending[:0] = batch
                del self._pending[: -self._kept]  # only the newest `kept` would stay anyway
                self._lease_id = None
                raise

    async def _lease(self) -> int:
        # One lease per TTL period: events written under it expire together.
        now = time.monotonic()
        if self._lease_id is None or now - self._lease_granted > self._ttl_s / 2:
            self._lease_id = await self._store.grant_lease(self._ttl_s)
            self._lease_granted = now
        return self._lease_id


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)
