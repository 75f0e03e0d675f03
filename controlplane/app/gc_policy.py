"""The long-lived heap out of the collector's way, so that no decision pays to traverse it.

CPython collects its oldest generation whenever it has grown by a quarter: a traversal of
every tracked object the process holds (the watch-fed caches, the snapshot of a pass, the
telemetry index) that takes tens of milliseconds with a large cluster's state, and lands
wherever the allocation that tripped it happens, often inside `optimize`. Measured with
`aiwo-bench placement-latency --gc both` on the 1,213-node trace: p99 42-51 ms with the
default collector, 16-23 ms with the heap settled (BENCHMARKS.md). The full collections
still run as often (18 in 300 calls either way); settled, they skip the frozen heap.

So the controller settles the heap itself: one full collection, then `gc.freeze()`, which
moves every survivor out of the collector's view (young objects are still collected as
usual). It does so once it has loaded its state and then every `interval_s`, unfreezing
first so that cycles among the old objects are still reclaimed: a traversal of the whole
heap is paid once per interval, at a moment of the controller's choosing.
"""

from __future__ import annotations

import asyncio
import gc
import time

import structlog

log = structlog.get_logger("aiwo.controller")

SETTLE_INTERVAL_S = 300.0


def settle() -> float:
    """Collect everything once, then freeze the survivors. Returns the pause in seconds."""
    start = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - start


def settle_logged(level: str = "debug") -> None:
    pause = settle()
    getattr(log, level)("gc_settled", pause_ms=round(pause * 1000, 1), frozen=gc.get_freeze_count())


async def settle_periodically(interval_s: float = SETTLE_INTERVAL_S) -> None:
    while True:
        await asyncio.sleep(interval_s)
        settle_logged()
