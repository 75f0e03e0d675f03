"""What the `aiwo bench` commands share: the seed list, the output, worker and leader-lease
options, the progress bar."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from controlplane.app.config import ControllerConfig

F = TypeVar("F", bound=Callable[..., Any])


def parse_seeds(text: str) -> list[int]:
    """ "42-51", "42,45,47" or "42"."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            seeds.extend(range(int(lo), int(hi) + 1) if hi else [int(lo)])
    except ValueError:
        raise click.BadParameter(f"expected e.g. 42-51 or 42,43, got {text!r}") from None
    if not seeds:
        raise click.BadParameter("no seeds")
    return seeds


def parse_names(text: str, known: Sequence[str], what: str = "policy") -> list[str]:
    """ "a,b": each one of `known` (a bad one: the error names it and lists them)."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in names if p not in known]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown {what} {', '.join(unknown) or '(none)'}; known: {', '.join(known)}"
        )
    return names


def output_option(f: F) -> F:
    """`-o table` (default) or `-o json`."""
    return click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")(f)


def workers_option(what: str) -> Callable[[F], F]:
    """`--workers N`: processes over the command's jobs (`what` names them)."""
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=min(2, os.cpu_count() or 1),
        show_default=True,
        help=f"processes over {what} jobs",
    )


def leader_lease_option(f: F) -> F:
    """`--leader-lease-s N`: the benched controllers' leader lease (the controller's default)."""
    return click.option(
        "--leader-lease-s",
        type=click.IntRange(min=1),
        default=ControllerConfig().leader_lease_s,
        show_default=True,
        help="The controllers' leader lease (default: the controller's).",
    )(f)


def progress_bar(console: Console) -> Progress:
    """A transient bar per task: name, bar, done/total, elapsed."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=console, transient=True)
