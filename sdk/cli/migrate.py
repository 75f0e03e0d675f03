"""`aiwo migrate`, `aiwo drain`, `aiwo migrations`: move running workloads between nodes."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import click
from rich import box
from rich.table import Table

from sdk import Migration, MigrationPhase, SyncAdminClient
from sdk.cli import _render as render
from sdk.cli._app import (
    CliError,
    Seconds,
    listed_namespace,
    namespace_option,
    namespaces_option,
    output_option,
    state,
)

POLL_S = 0.5


def _wait(admin: SyncAdminClient, keys: Sequence[str], timeout_s: float) -> dict[str, Migration]:
    """Poll until every migration of `keys` ("ns/name") is done; the last records seen."""
    deadline = time.monotonic() + timeout_s
    latest: dict[str, Migration] = {}
    while True:
        for key in keys:
            if key in latest and latest[key].done:
                continue
            namespace, name = key.split("/", 1)
            latest[key] = admin.get_migration(name, namespace)
        if all(m.done for m in latest.values()):
            return latest
        if time.monotonic() > deadline:
            pending = ", ".join(f"{k} ({m.phase})" for k, m in latest.items() if not m.done)
            raise CliError(f"not done within {timeout_s:g}s: {pending}")
        time.sleep(POLL_S)


def _line(m: Migration) -> str:
    if m.phase == MigrationPhase.FAILED:
        return f"migration of {m.workload} to {m.target_node} failed: {m.error}"
    if m.phase == MigrationPhase.RUNNING:
        return f"{m.workload} moved from {m.source_node} to {m.target_node}"
    return f"{m.workload}: {m.source_node} -> {m.target_node} ({m.phase})"


def migrations_table(items: Sequence[Migration]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("WORKLOAD", "FROM", "TO", "PHASE", "AGE", "DETAIL"):
        table.add_column(column)
    for m in items:
        detail = m.error or (m.history[-1].detail if m.history else "")
        age = render.age(m.requested_unix)
        table.add_row(m.workload, m.source_node, m.target_node, str(m.phase), age, detail)
    return table


@click.command()
@click.argument("workload")
@namespace_option
@click.option("--to", "target", default=None, metavar="NODE", help="Default: the best node.")
@click.option("--reason", default="", help="Recorded with the migration and its events.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Until done.")
@click.option("--timeout", default=300.0, type=Seconds(), show_default=True, help="For --wait (s).")
@output_option
def migrate(
    workload: str,
    namespace: str | None,
    target: str | None,
    reason: str,
    wait: bool,
    timeout: float,
    output: str,
) -> None:
    """Move a running workload to another node, from its checkpoint (docs/migration.md).

    A managed workload is checkpointed (CHECKPOINT directive, or SIGTERM), its checkpoint
    travels to the target, and it resumes there; if anything fails it is rolled back and
    keeps running on its node. Exits 1 when the migration failed."""
    admin = state().admin()
    record = admin.migrate(workload, target, namespace=namespace, reason=reason)
    if wait:
        record = _wait(admin, [record.workload], timeout)[record.workload]
    if output == "json":
        click.echo(render.to_json(record))
    else:
        click.echo(_line(record))
    if record.phase == MigrationPhase.FAILED:
        raise SystemExit(1)


@click.command()
@click.argument("node")
@click.option("--reason", default="", help="Shown on the node and in the event log.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Until every move ends.")
@click.option("--timeout", default=600.0, type=Seconds(), show_default=True, help="For --wait (s).")
@output_option
def drain(node: str, reason: str, wait: bool, timeout: float, output: str) -> None:
    """Cordon a node and migrate every workload off it; it stays cordoned.

    Exits 1 when a workload could not be moved (it keeps running there)."""
    admin = state().admin()
    result = admin.drain(node, reason)
    records = {m.workload: m for m in result.migrations}
    if wait and records:
        records = _wait(admin, sorted(records), timeout)
    failed = [m for m in records.values() if m.phase == MigrationPhase.FAILED]
    if output == "json":
        final = dataclasses.replace(result, migrations=tuple(records.values()))
        click.echo(render.to_json(final))
    else:
        click.echo(f"node {node} cordoned")
        for m in sorted(records.values(), key=lambda m: m.workload):
            click.echo(_line(m))
        for key, why in sorted(result.skipped.items()):
            click.echo(f"{key} stays: {why}")
    if failed or result.skipped:
        raise SystemExit(1)


@click.command()
@namespaces_option
@output_option
def migrations(namespace: str | None, all_namespaces: bool, output: str) -> None:
    """Each workload's latest migration, with its phase and what happened last."""
    ns = listed_namespace(namespace, all_namespaces)  # refused before connecting
    items = state().admin().list_migrations(ns)
    if output == "json":
        click.echo(render.to_json(items))
    else:
        render.console().print(migrations_table(items))
