"""Health probes of the service replicas on this node: GET the health path about every
second and report "ready" / "unready" as process events.

The decisions are nodeagent.readiness's (pure); this module only does the I/O: a minimal
HTTP/1.1 GET on asyncio (a status line is all it needs, so no HTTP library), one task per
replica, cancelled when the replica's process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog

from nodeagent.launch import ProcessEvent
from nodeagent.readiness import DEFAULT_FAILURES_TO_UNREADY, Readiness, Transition
from sdk._tasks import cancel_and_wait

log = structlog.get_logger("aiwo.agent.probe")

PROBE_HOST = "127.0.0.1"  # replicas run on this node; their port is bound on every address
DEFAULT_INTERVAL_S = 1.0
DEFAULT_TIMEOUT_S = 1.0
_MAX_STATUS_LINE = 1024


async def http_status(host: str, port: int, path: str, timeout_s: float) -> int | None:
    """The status of `GET path` on host:port, or None when nothing valid answers in time."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "User-Agent: aiwo-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            line = await reader.readline()
    except (OSError, TimeoutError, ValueError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), timeout_s)
    parts = line[:_MAX_STATUS_LINE].split()
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1].isdigit():
        return int(parts[1])
    return None


class ReplicaProber:
    """Probes each watched replica; the supervisor calls `watch` after each (re)start and
    `forget` when the process exits."""

    def __init__(
        self,
        on_event: Callable[[ProcessEvent], None],
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        failures_to_unready: int = DEFAULT_FAILURES_TO_UNREADY,
        host: str = PROBE_HOST,
    ) -> None:
        self._on_event = on_event
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.host = host
        self.readiness = Readiness(failures_to_unready)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pids: dict[str, int] = {}

    def watch(self, workload: str, pid: int, port: int, health_path: str) -> None:
        self._cancel(workload)
        self.readiness.watch(workload, port)
        self._pids[workload] = pid
        self._tasks[workload] = asyncio.create_task(
            self._probe_loop(workload, pid, port, health_path), name=f"aiwo-probe-{workload}"
        )

    def forget(self, workload: str) -> None:
        """The replica's process is gone: stop probing, and unready now if it was ready."""
        self._cancel(workload)
        port = self.readiness.replicas.get(workload)
        transition = self.readiness.forget(workload)
        pid = self._pids.pop(workload, 0)
        if transition is not None and port is not None:
            self._emit(workload, transition, pid, port.port, "process exited")

    def ready_events(self) -> list[ProcessEvent]:
        """A "ready" event for every replica that is ready now: sent again after each
        reconnect, so that a controller that has just become leader learns the endpoints."""
        now = time.time()
        return [
            ProcessEvent(
                workload,
                "ready",
                self._pids.get(workload, 0),
                detail="still ready",
                time_unix=now,
                port=port,
            )
            for workload, port in self.readiness.ready().items()
        ]

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        await cancel_and_wait(tasks)

    def _cancel(self, workload: str) -> None:
        task = self._tasks.pop(workload, None)
        if task is not None:
            task.cancel()

    async def _probe_loop(self, workload: str, pid: int, port: int, path: str) -> None:
        while True:
            started = time.monotonic()
            status = await http_status(self.host, port, path, self.timeout_s)
            transition = self.readiness.observe(workload, status)
            if transition is not None:
                detail = f"GET {path} answered {status}" if status else f"GET {path}: no answer"
                self._emit(workload, transition, pid, port, detail)
            await asyncio.sleep(max(self.interval_s - (time.monotonic() - started), 0.05))

    def _emit(self, workload: str, kind: Transition, pid: int, port: int, detail: str) -> None:
        event = ProcessEvent(workload, kind, pid, detail=detail, time_unix=time.time(), port=port)
        log.info("replica_readiness", workload=workload, kind=kind, port=port, detail=detail)
        try:
            self._on_event(event)
        except Exception:  # a broken listener must not stop the probes
            log.exception("process_event_listener_failed", workload=workload)
