"""What every command shares: the controller address, one admin client, error handling."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

import click

from sdk import (
    AiwoError,
    ClientConfig,
    ControllerUnavailable,
    SyncAdminClient,
    SyncClient,
    resolve_target_with_source,
)

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """One line on stderr, exit status 1: how every SDK error reaches the user."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"aiwo: {self.format_message()}", err=True, file=file)


class UsageLine(click.ClickException):
    """A usage error in one line on stderr, exit status 2 (click's own form is the usage
    synopsis, a hint and the error: three lines, the one that matters last)."""

    exit_code = 2

    def __init__(self, error: click.UsageError) -> None:
        super().__init__(error.format_message())
        self.command_path = error.ctx.command_path if error.ctx else "aiwo"

    def show(self, file: IO[Any] | None = None) -> None:
        line = f"{self.command_path}: {self.format_message()} (see `{self.command_path} --help`)"
        click.echo(line, err=True, file=file)


class AiwoGroup(click.Group):
    """Turns SDK errors raised by any command into `CliError` (no traceback), and usage
    errors into one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            raise UsageLine(error) from None
        except ControllerUnavailable as error:
            message = str(error)
            cli_state = ctx.find_object(CliState)
            explicit = cli_state.controller if cli_state else None
            if not error.reachable and resolve_target_with_source(explicit)[1] == "default":
                # Nothing told us where a controller is: say how to get one.
                message += "; start a local cluster with `aiwo up` or pass --controller"
            raise CliError(message) from None
        except AiwoError as error:
            raise CliError(str(error)) from None
        except KeyboardInterrupt:
            sys.exit(130)


@dataclass
class CliState:
    controller: str | None
    config: ClientConfig = field(default_factory=ClientConfig)
    _admin: SyncAdminClient | None = None

    def admin(self) -> SyncAdminClient:
        """The admin client, connected on first use and closed when the command ends."""
        if self._admin is None:
            self._admin = SyncAdminClient.connect(self.controller, config=self.config)
            click.get_current_context().call_on_close(self._admin.close)
        return self._admin

    def client(self) -> SyncClient:
        client = SyncClient.connect(self.controller, config=self.config)
        click.get_current_context().call_on_close(client.close)
        return client


def state(ctx: click.Context | None = None) -> CliState:
    ctx = ctx or click.get_current_context()
    obj = ctx.find_object(CliState)
    assert obj is not None, "commands run under the aiwo group"
    return obj


def key_values(texts: Iterable[str], option: str) -> dict[str, str]:
    """Repeated KEY=VALUE options (--env, --label) as a mapping; a malformed one is a usage
    error that names it and its option."""
    pairs: dict[str, str] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{text!r}: expected KEY=VALUE", param_hint=f"'{option}'")
        pairs[key] = value
    return pairs


class Seconds(click.FloatRange):
    """A finite number of seconds within a range. click's FloatRange alone lets "nan" through
    (every comparison with nan is false), and a nan interval or deadline then crashes a sleep
    or never ends a wait."""

    name = "seconds"

    def __init__(self, min: float = 0.0, min_open: bool = False) -> None:
        super().__init__(min=min, min_open=min_open)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a finite number of seconds.", param, ctx)
        return seconds


def output_option(fn: F) -> F:
    """`-o table|json` on a listing command."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="json: an array, one object per item, keys as in the API messages.",
    )(fn)


def namespace_option(fn: F) -> F:
    return click.option("-n", "--namespace", default=None, help='Namespace (default: "default").')(
        fn
    )


def namespaces_option(fn: F) -> F:
    """-n NAMESPACE or -A (every namespace), on a listing command; `listed_namespace`
    resolves the pair."""
    every = click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace.")
    return namespace_option(every(fn))


def listed_namespace(namespace: str | None, all_namespaces: bool) -> str | None:
    """The namespace a listing covers: -n's, else the configured one; None (every one) for -A."""
    if all_namespaces and namespace:
        raise click.UsageError("use either -n or -A")
    return None if all_namespaces else (namespace or state().config.namespace)
