"""What both examples need around the SDK: arguments, stopping, a patient connect.

Under `aiwo up --demo` an example that exits early stops the whole demo, so the examples
wait for the controller instead of failing when it is briefly not there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time

from sdk import Client, ControllerUnavailable, Directive


def parser(description: str, default_name: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--controller", default=None, help="HOST:PORT (else AIWO_CONTROLLER, ...)")
    p.add_argument("--name", default=default_name, help="Workload name.")
    p.add_argument("--namespace", default="default")
    p.add_argument("--duration", type=float, default=None, help="Stop after S seconds.")
    p.add_argument("--keep", action="store_true", help="Do not deregister on exit.")
    return p


def say(name: str, message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {name}: {message}", flush=True)


def why(directive: Directive) -> str:
    """The controller's reason, for log lines: " (p99 over target on n1)" or ""."""
    return f" ({directive.reason})" if directive.reason else ""


def stop_event(duration: float | None) -> asyncio.Event:
    """Set on SIGINT/SIGTERM or after `duration` seconds."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    return stop


async def connect(target: str | None, name: str, stop: asyncio.Event) -> Client | None:
    """Connect, retrying with backoff while the controller is unreachable; None if stopped."""
    delay = 0.2
    while not stop.is_set():
        try:
            return await Client.connect(target)
        except ControllerUnavailable as exc:
            say(name, f"{exc}; retrying in {delay:.1f}s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 5.0)
    return None


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def run(main: object) -> None:
    try:
        sys.exit(asyncio.run(main))  # type: ignore[arg-type]
    except KeyboardInterrupt:
        sys.exit(130)
