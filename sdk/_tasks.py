"""Stopping background tasks, as every long-lived aiwo object does when it stops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel every task, then wait until each has finished. What a task raised on its way
    out (its cancellation, or the failure that ended it) is not the stopper's to handle."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
