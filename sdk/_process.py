"""Start-up shared by aiwo's server processes (aiwo-controller, aiwo-agent, aiwo-gateway): the
options every one takes, settings, logging, the event loop, and the signals that stop them.
Here because all stand on the SDK and on none of each other (tests/test_layering.py)."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, Protocol, TypeVar

import click
import uvloop

from sdk._logs import configure_logging


class LoggedConfig(Protocol):
    @property
    def log_format(self) -> str: ...

    @property
    def log_level(self) -> str: ...


C = TypeVar("C", bound=LoggedConfig)
F = TypeVar("F", bound=Callable[..., Any])


def settings_options(table: str, config_envvar: str) -> Callable[[F], F]:
    """--config (a TOML file whose [`table`] table holds the settings; also `config_envvar`),
    --log-format and --log-level: the options a server process takes besides its own."""

    def decorate(command: F) -> F:
        for option in (
            click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"])),
            click.option("--log-format", type=click.Choice(["console", "json"])),
            click.option(
                "--config",
                "config_file",
                type=click.Path(dir_okay=False),
                envvar=config_envvar,
                help=f"TOML file ([{table}] table).",
            ),
        ):
            command = option(command)
        return command

    return decorate


def controller_tls_options(certificate_help: str) -> Callable[[F], F]:
    """--tls-cert (`certificate_help` says whose and what it names), --tls-key, --tls-ca and
    --tls-server-name: mutual TLS to the controller, as the agent and the gateway take it."""

    def decorate(command: F) -> F:
        for option in (
            click.option(
                "--tls-server-name", help="Name in the controller's certificate, if not its host."
            ),
            click.option("--tls-ca", help="CA bundle that signed the controller's certificate."),
            click.option("--tls-key", help="Its private key (PEM)."),
            click.option("--tls-cert", help=certificate_help),
        ):
            command = option(command)
        return command

    return decorate


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
