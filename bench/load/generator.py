"""An open-loop HTTP load generator: requests leave at their scheduled times, whatever the
server does.

Each request is its own task, started at its arrival time; nothing waits for an earlier
answer, and the connection pool is unbounded, so a slow server gets more concurrent requests,
not fewer (a closed loop would slow down with it and hide the overload). Latencies count from
the *scheduled* time, so a late start (the generator itself falling behind) shows up in the
figures instead of vanishing (coordinated omission); the dispatch lag is reported apart.

The body each request carries is JSON: {"prompt_tokens": P, "max_tokens": O, "stream": S}
with the trace's token counts, which an LLM-like server can act on and any other ignores.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import time
from dataclasses import dataclass

import aiohttp

from bench.load.arrivals import Schedule


@dataclass(frozen=True)
class Outcome:
    scheduled_s: float  # offset in the run
    lag_ms: float  # how late the request left, against its schedule
    status: int  # 0 when no HTTP answer came
    error: str  # "" when ok; else "http_503", "connect", "timeout", "broken", ...
    ttft_ms: float  # schedule to first body byte (or headers, for an empty body)
    latency_ms: float  # schedule to last byte
    chunks: int
    chunk_gaps_ms: tuple[float, ...]
    bytes: int


def raise_fd_limit() -> None:
    """Every open request is a socket: lift the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    del soft


async def _one(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    scheduled: float,
    offset_s: float,
    keep_gaps: bool,
) -> Outcome:
    lag_ms = (time.monotonic() - scheduled) * 1000.0
    status = 0
    first = 0.0
    last = 0.0
    chunks = 0
    size = 0
    gaps: list[float] = []
    error = ""
    try:
        async with session.request(method, url, data=body, headers=headers) as response:
            status = response.status
            async for chunk in response.content.iter_any():
                now = time.monotonic()
                if chunks == 0:
                    first = now
                elif keep_gaps:
                    gaps.append((now - last) * 1000.0)
                last = now
                chunks += 1
                size += len(chunk)
            if chunks == 0:
                first = last = time.monotonic()
            if status >= 400:
                error = f"http_{status}"
    except aiohttp.ClientConnectorError:
        error = "connect"
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
        error = "broken"
    except TimeoutError:
        error = "timeout"
    except aiohttp.ClientError as exc:
        error = type(exc).__name__
    end = time.monotonic()
    return Outcome(
        scheduled_s=offset_s,
        lag_ms=lag_ms,
        status=status,
        error=error,
        ttft_ms=((first or end) - scheduled) * 1000.0,
        latency_ms=(end - scheduled) * 1000.0,
        chunks=chunks,
        chunk_gaps_ms=tuple(gaps),
        bytes=size,
    )


async def run_open_loop(
    url: str,
    schedule: Schedule,
    *,
    stream: bool = False,
    method: str = "POST",
    timeout_s: float = 600.0,
    keep_gaps: bool = True,
    lead_s: float = 0.2,
) -> tuple[list[Outcome], float]:
    """Send every request of `schedule` at its time; return the outcomes and the wall time."""
    raise_fd_limit()
    headers = {"Content-Type": "application/json"}
    if stream:
        headers["Accept"] = "text/event-stream"
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=30)
    timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(timeout_s, 30.0))
    outcomes: list[Outcome] = []
    pending: set[asyncio.Task[Outcome]] = set()
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False
    ) as session:
        start = time.monotonic() + lead_s
        for i in range(len(schedule)):
            offset = float(schedule.offset_s[i])
            scheduled = start + offset
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            body = json.dumps(
                {
                    "prompt_tokens": int(schedule.prompt_tokens[i]),
                    "max_tokens": int(schedule.output_tokens[i]),
                    "stream": stream,
                }
            ).encode()
            task = asyncio.create_task(
                _one(session, method, url, body, headers, scheduled, offset, keep_gaps)
            )
            pending.add(task)
            task.add_done_callback(pending.discard)
            task.add_done_callback(lambda t: outcomes.append(t.result()))
        if pending:
            await asyncio.wait(pending)
        wall_s = time.monotonic() - start
    return outcomes, wall_s
