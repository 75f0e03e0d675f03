"""An in-memory copy of one etcd prefix, kept current by list + watch.

Reads never go to etcd: they come from here. On a broken watch (etcd restart, compaction)
the cache relists and watches again from the new revision.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import structlog
from google.protobuf.message import DecodeError, Message

from controlplane.etcd.store import EtcdStore

log = structlog.get_logger("aiwo.cache")

M = TypeVar("M", bound=Message)


class PrefixCache(Generic[M]):
    def __init__(self, store: EtcdStore, prefix: str, message_type: type[M]) -> None:
        self._store = store
        self._prefix = prefix
        self._type = message_type
        self._items: dict[str, M] = {}
        self._revision = 0
        self._listeners: list[Callable[[str, M | None], None]] = []
        self._task: asyncio.Task[None] | None = None
        self.synced = asyncio.Event()

    # ------------------------------------------------------------ reads

    def get(self, suffix: str) -> M | None:
        return self._items.get(suffix)

    def items(self) -> Iterator[tuple[str, M]]:
        return iter(list(self._items.items()))

    def values(self) -> list[M]:
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, suffix: str) -> bool:
        return suffix in self._items

    @property
    def revision(self) -> int:
        return self._revision

    def subscribe(self, listener: Callable[[str, M | None], None]) -> None:
        """`listener(suffix, message_or_None)` runs on every change, in the event loop."""
        self._listeners.append(listener)

    # ------------------------------------------------------------ writes seen early

    def apply_local(self, suffix: str, message: M | None) -> None:
        """Record a write we just committed, before the watch echoes it back.

        The watch delivers the same value a moment later; applying it twice is harmless.
        """
        self._apply(suffix, message)

    # ------------------------------------------------------------ sync

    async def start(self) -> None:
        await self._relist()
        self._task = asyncio.create_task(self._run(), name=f"cache{self._prefix}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _relist(self) -> None:
        revision, kvs = await self._store.list_prefix(self._prefix)
        fresh: dict[str, M] = {}
        for kv in kvs:
            message = self._decode(kv.key, kv.value)
            if message is not None:
                fresh[kv.key[len(self._prefix) :]] = message
        gone = set(self._items) - set(fresh)
        for suffix in gone:
            self._apply(suffix, None)
        for suffix, message in fresh.items():
            if self._items.get(suffix) != message:
                self._apply(suffix, message)
        self._revision = revision
        self.synced.set()

    async def _run(self) -> None:
        backoff_s = 0.2
        while True:
            try:
                async for event in self._store.watch_prefix(self._prefix, self._revision + 1):
                    suffix = event.key[len(self._prefix) :]
                    if event.value is None:
                        self._apply(suffix, None)
                    else:
                        message = self._decode(event.key, event.value)
                        if message is not None:
                            self._apply(suffix, message)
                    self._revision = max(self._revision, event.revision)
                    backoff_s = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broken watch: relist and watch again
                log.warning("cache_watch_broken", prefix=self._prefix, error=str(exc))
            await asyncio.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, 5.0)
            with contextlib.suppress(Exception):
                await self._relist()

    def _decode(self, key: str, value: bytes) -> M | None:
        message = self._type()
        try:
            message.ParseFromString(value)
        except DecodeError as exc:
            log.error("cache_undecodable_value", key=key, error=str(exc))
            return None
        return message

    def _apply(self, suffix: str, message: M | None) -> None:
        if message is None:
            if self._items.pop(suffix, None) is None:
                return
        else:
            if self._items.get(suffix) == message:
                return
            self._items[suffix] = message
        for listener in self._listeners:
            listener(suffix, message)
