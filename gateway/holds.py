"""Requests held for a service with no routable replica (scale from zero).

Bounded per service; a waiter wakes when the endpoints change (`notify`) and looks again.
"""

from __future__ import annotations

import asyncio

from gateway.endpoints import ServiceKey


class Holds:
    def __init__(self, size: int) -> None:
        self.size = size
        self._counts: dict[ServiceKey, int] = {}
        self._changed = asyncio.Event()

    def count(self, key: ServiceKey) -> int:
        return self._counts.get(key, 0)

    def counts(self) -> dict[ServiceKey, int]:
        return dict(self._counts)

    def total(self) -> int:
        return sum(self._counts.values())

    def enter(self, key: ServiceKey) -> bool | None:
        """Take a place: True if it is the service's first held request, None if full."""
        held = self._counts.get(key, 0)
        if held >= self.size:
            return None
        self._counts[key] = held + 1
        return held == 0

    def leave(self, key: ServiceKey) -> None:
        held = self._counts.get(key, 0) - 1
        if held > 0:
            self._counts[key] = held
        else:
            self._counts.pop(key, None)

    def notify(self) -> None:
        """The endpoints changed: every waiter looks again."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, timeout_s: float) -> None:
        """Until the next `notify`, or `timeout_s`."""
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), max(0.0, timeout_s))
        except TimeoutError:
            pass
