"""Read and operate: nodes, gpus, workloads, events, describe, explain, cordon, info."""

from __future__ import annotations

import click

from sdk import resolve_target_with_source
from sdk.cli import _render as render
from sdk.cli._app import listed_namespace, namespace_option, namespaces_option, output_option, state


def _emit(value: object, output: str, table: object) -> None:
    if output == "json":
        click.echo(render.to_json(value))
    else:
        render.console().print(table)


@click.command()
@output_option
def nodes(output: str) -> None:
    """List nodes."""
    items = state().admin().list_nodes()
    _emit(items, output, render.nodes_table(items))


@click.command()
@click.option("--node", default=None, help="Only this node's GPUs.")
@output_option
def gpus(node: str | None, output: str) -> None:
    """List GPUs with their latest telemetry."""
    items = state().admin().list_gpus(node)
    _emit(items, output, render.gpus_table(items))


@click.command()
@namespaces_option
@output_option
def workloads(namespace: str | None, all_namespaces: bool, output: str) -> None:
    """List workloads (of the default namespace unless -n or -A)."""
    ns = listed_namespace(namespace, all_namespaces)  # refused before connecting
    items = state().admin().list_workloads(ns)
    if not items and output == "table":  # a bare header row reads as a broken table
        click.echo("no workloads" + ("" if all_namespaces else f" in namespace {ns}"))
        return
    _emit(items, output, render.workloads_table(items, namespaces=all_namespaces))


@click.command()
@click.option(
    "--object",
    "object_",
    default="",
    metavar="PREFIX",
    help='e.g. "workload/default/web", "node/".',
)
@click.option("--limit", default=0, type=click.IntRange(min=0), help="0: the controller's default.")
@output_option
def events(object_: str, limit: int, output: str) -> None:
    """Decisions and state changes, newest first, each with its reason."""
    items = state().admin().list_events(object_, limit)
    _emit(items, output, render.events_table(items))


@click.group()
def describe() -> None:
    """Show one node, workload or service in detail, with its recent events."""


@describe.command("node")
@click.argument("name")
@output_option
def describe_node(name: str, output: str) -> None:
    """Describe a node."""
    description = state().admin().describe_node(name)
    _emit(description, output, render.describe_view(description))


@describe.command("workload")
@click.argument("name")
@namespace_option
@output_option
def describe_workload(name: str, namespace: str | None, output: str) -> None:
    """Describe a workload."""
    description = state().admin().describe_workload(name, namespace)
    _emit(description, output, render.describe_view(description))


@click.command()
@click.argument("workload")
@namespace_option
@output_option
def explain(workload: str, namespace: str | None, output: str) -> None:
    """Why a workload is placed where it is, or why it is not placed; for a service, why it
    has the replicas it has and what blocks it."""
    explanation = state().admin().explain(workload, namespace)
    if output == "json":
        click.echo(render.explanation_json(explanation))
        return
    render.console().print(render.explain_view(explanation))


@click.command()
@click.argument("name")
@click.option("--reason", default="", help="Shown in `aiwo nodes` and the event log.")
def cordon(name: str, reason: str) -> None:
    """Stop placing new workloads on a node."""
    node = state().admin().cordon(name, reason)
    click.echo(f"node {node.name} cordoned" + (f" ({reason})" if reason else ""))


@click.command()
@click.argument("name")
@click.option(
    "--clear-health",
    is_flag=True,
    help="After a repair: also clear every GPU's unhealthy mark (docs/health.md).",
)
@click.option(
    "--gpu",
    "gpus",
    multiple=True,
    type=click.IntRange(0),
    metavar="INDEX",
    help="Clear only this GPU's unhealthy mark (repeatable; implies --clear-health).",
)
def uncordon(name: str, clear_health: bool, gpus: tuple[int, ...]) -> None:
    """Allow placements on a node again (and, after a repair, on its unhealthy GPUs)."""
    before = state().admin().get_node(name) if clear_health or gpus else None
    node = state().admin().uncordon(name, clear_health=clear_health, gpus=gpus)
    click.echo(f"node {node.name} uncordoned")
    if before is not None:
        cleared = sorted(set(before.unhealthy_gpus) - set(node.unhealthy_gpus))
        click.echo(
            f"GPU {', '.join(map(str, cleared))} back in service"
            if cleared
            else "no unhealthy mark to clear"
        )


@click.command()
@output_option
def info(output: str) -> None:
    """Which controller this talks to, and what it says about itself."""
    cli_state = state()
    address, source = resolve_target_with_source(cli_state.controller)
    details = cli_state.admin().cluster_info()
    if output == "json":
        click.echo(render.to_json(details))
        return
    click.echo(f"controller: {address} (from {source})")
    click.echo(f"version:    {details.version}")
    click.echo(f"leader:     {details.leader} (epoch {details.epoch})")
    click.echo(f"etcd:       {details.etcd_endpoints}")
    click.echo(f"up for:     {render.age(details.started_unix)}")
