"""`aiwo up`: a local cluster in one command (being written; owned by the controller work)."""

from __future__ import annotations

import click


@click.command("up")
def up() -> None:
    """Start a local etcd member, the controller and simulated node agents."""
    raise click.ClickException("aiwo up is not available in this build yet")
