"""The leader's pass loops (placement, serving): one pass on a wake-up or every interval, for
as long as this controller leads, with one policy for what a failed pass means."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from controlplane.etcd.store import EtcdStore, FencingError
from controlplane.leader.decisions import Conflict

# After an unexpected failure: long enough not to spin on a broken etcd, short enough that
# the next pass is not a period late.
RETRY_AFTER_FAILURE_S = 0.5


async def run_passes(
    store: EtcdStore,
    wake: asyncio.Event,
    interval_s: Callable[[], float],
    pass_once: Callable[[float], Awaitable[None]],
    log: Any,
    failed_event: str,
) -> None:
    """Run `pass_once(now)` while this controller leads; returns when leadership is lost.

    A pass that decided on a state another decision changed first (Conflict) runs again at
    once; a fenced write ends the loop; any other failure is logged as `failed_event` on
    `log` (the caller's logger, so the event keeps its name) and the loop goes on."""
    while store.epoch > 0:
        try:
            await asyncio.wait_for(wake.wait(), interval_s())
        except TimeoutError:
            pass
        wake.clear()
        try:
            await pass_once(time.time())
        except Conflict:
            wake.set()  # another decision changed what this pass saw: go again
        except FencingError as exc:
            log.warning("leadership_lost", error=str(exc))
            return
        except Exception as exc:  # keep the loop alive; the next pass retries
            log.exception(failed_event, error=str(exc))
            await asyncio.sleep(RETRY_AFTER_FAILURE_S)
