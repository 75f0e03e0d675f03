"""`aiwo top`: a live view of the cluster's GPUs and workloads, sized to the terminal
(sdk/cli/top_view.py draws it); `q` quits."""

from __future__ import annotations

import contextlib
import os
import select
import sys
import time
from collections.abc import Iterator

import click
from rich.console import Console, Group, RenderableType
from rich.live import Live

from sdk import SyncAdminClient
from sdk.cli import _render as render
from sdk.cli import _services_render as services_render
from sdk.cli import top_view
from sdk.cli._app import Seconds, state


def frame(admin: SyncAdminClient, size: top_view.Size) -> RenderableType:
    services = admin.list_services(None)
    if size.height is not None and services:
        # Each service's replicas, demand and SLO below, in at most a quarter of the screen.
        services = services[: max(1, size.height // 4 - 2)]
        size = top_view.Size(size.width, max(size.height - 2 - len(services), 8))
    view = top_view.frame(admin.list_nodes(), admin.list_gpus(), admin.list_workloads(None), size)
    if not services:
        return view
    return Group(view, services_render.top_table(services))


def _size(console: Console) -> top_view.Size:
    if not console.is_terminal:
        return top_view.Size(console.width, None)
    return top_view.Size(console.size.width, console.size.height)


@contextlib.contextmanager
def _keys() -> Iterator[int | None]:
    """stdin in cbreak mode (keys arrive one at a time, unechoed) while the view runs; its
    descriptor, or None where stdin is not a terminal (then only Ctrl-C or --duration stop)."""
    if not sys.stdin.isatty():
        yield None
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _quit_pressed(fd: int | None, timeout_s: float) -> bool:
    """Wait up to `timeout_s` for a key; True when it is q (or Q)."""
    if fd is None:
        time.sleep(timeout_s)
        return False
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready and os.read(fd, 1) in (b"q", b"Q"):
            return True
    return False


@click.command()
@click.option("--once", is_flag=True, help="Print one frame and exit.")
@click.option("--duration", type=Seconds(), default=None, help="Stop after this many seconds.")
@click.option("--interval", type=Seconds(min_open=True), default=1.0, show_default=True,
              help="Refresh (s).")  # fmt: skip
def top(once: bool, duration: float | None, interval: float) -> None:
    """Live GPUs (utilization, memory, power) and workloads (placement, p99); q quits.

    Sized to the terminal: one row per GPU when they fit, else one per node; the
    workloads always show."""
    admin = state().admin()
    console = render.console()
    if once:
        console.print(frame(admin, _size(console)))
        return
    deadline = None if duration is None else time.monotonic() + duration
    if not console.is_terminal:
        # A log or a pipe (e.g. `aiwo up --demo > demo.log`): whole frames, every 5 intervals.
        while True:
            console.print(frame(admin, _size(console)))
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            time.sleep(5 * interval if remaining is None else min(5 * interval, remaining))
    with (
        _keys() as keys,
        Live(frame(admin, _size(console)), console=console, auto_refresh=False) as live,
    ):
        while deadline is None or time.monotonic() < deadline:
            pause = interval if deadline is None else min(interval, deadline - time.monotonic())
            if _quit_pressed(keys, max(0.0, pause)):
                return
            live.update(frame(admin, _size(console)), refresh=True)
