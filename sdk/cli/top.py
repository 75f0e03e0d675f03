"""`aiwo top`: a live view of the cluster's GPUs and workloads."""

from __future__ import annotations

import time

import click
from rich.console import Group, RenderableType
from rich.live import Live
from rich.text import Text

from sdk import Gpu, Node, NodeState, SyncAdminClient, Workload
from sdk.cli import _render as render
from sdk.cli import _services_render as services_render
from sdk.cli._app import state


def summary(nodes: list[Node], gpus: list[Gpu], workloads: list[Workload]) -> Text:
    ready = sum(n.state == NodeState.READY for n in nodes)
    allocated = sum(g.milli_allocated for g in gpus) / 1000
    power = sum(g.power_w for g in gpus)
    placed = sum(w.placement is not None for w in workloads)
    text = Text(time.strftime("%H:%M:%S  "), style="dim")
    text.append(f"nodes {ready}/{len(nodes)} ready   ", style="bold")
    text.append(f"GPUs {allocated:g}/{len(gpus)} allocated   ")
    text.append(f"power {power:,.0f} W   ")
    text.append(f"workloads {placed}/{len(workloads)} placed")
    return text


def frame(admin: SyncAdminClient) -> RenderableType:
    nodes = admin.list_nodes()
    gpus = admin.list_gpus()
    workloads = admin.list_workloads(None)
    parts: list[RenderableType] = [
        summary(nodes, gpus, workloads),
        render.gpus_table(gpus, bars=True),
        render.workloads_table(workloads, namespaces=True),
    ]
    services = admin.list_services(None)
    if services:  # replicas, demand and SLO of each service
        parts.append(services_render.top_table(services))
    return Group(*parts)


@click.command()
@click.option("--once", is_flag=True, help="Print one frame and exit.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Refresh (s).")
def top(once: bool, duration: float | None, interval: float) -> None:
    """Live GPUs (utilization, memory, power) and workloads (placement, p99)."""
    admin = state().admin()
    console = render.console()
    if once:
        console.print(frame(admin))
        return
    deadline = None if duration is None else time.monotonic() + duration
    if not console.is_terminal:
        # A log or a pipe (e.g. `aiwo up --demo > demo.log`): whole frames, every 5 intervals.
        while True:
            console.print(frame(admin))
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            time.sleep(5 * interval if remaining is None else min(5 * interval, remaining))
    with Live(frame(admin), console=console, auto_refresh=False) as live:
        while deadline is None or time.monotonic() < deadline:
            pause = interval if deadline is None else min(interval, deadline - time.monotonic())
            time.sleep(max(0.0, pause))
            live.update(frame(admin), refresh=True)
