"""Start-up shared by aiwo's server processes (aiwo-controller, aiwo-agent): settings, logging,
the event loop, and the signals that stop them. Here because both stand on the SDK and on
neither of each other (tests/test_layering.py)."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn, Protocol, TypeVar

import click
import uvloop

from sdk._logs import configure_logging


class LoggedConfig(Protocol):
    @property
    def log_format(self) -> str: ...

    @property
    def log_level(self) -> str: ...


C = TypeVar("C", bound=LoggedConfig)


def run_process(
    program: str,
    load: Callable[[], C],
    serve: Callable[[C], Awaitable[int]],
    config_errors: tuple[type[Exception], ...],
) -> NoReturn:
    """Load the settings (a bad one: one line naming it, exit 2), configure logging, and run
    `serve` on uvloop; its return value is the exit status."""
    try:
        config = load()
    except config_errors as exc:
        click.echo(f"{program}: {exc}", err=True)
        sys.exit(2)
    configure_logging(config.log_format, config.log_level)
    uvloop.install()
    sys.exit(asyncio.run(_awaited(serve(config))))


async def _awaited(result: Awaitable[int]) -> int:
    return await result


def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (the running loop's handlers)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
