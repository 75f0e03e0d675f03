"""`aiwo down` and `aiwo reset`: stop a local cluster from any shell, wipe a stopped one.

Both find the cluster through STATE_DIR/cluster.lock (sdk/cli/cluster_lock.py): held means
running, and the file names the `aiwo up` process to signal.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import click

from sdk import state_dir as default_state_dir
from sdk.cli._app import CliError, Seconds
from sdk.cli.cluster_lock import LOCK_FILE, ClusterLock, ClusterLocked, holder_pid
from sdk.cli.state_files import entries, wipe

_STATE_DIR = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="AIWO_STATE_DIR",
    help="The state directory `aiwo up` used.",
)


def _directory(state_dir: Path | None) -> Path:
    return (state_dir or default_state_dir()).expanduser().resolve()


@click.command()
@_STATE_DIR
@click.option(
    "--timeout",
    default=60.0,
    type=Seconds(min=1),
    show_default=True,
    help="Seconds to wait for it to stop.",
)
def down(state_dir: Path | None, timeout: float) -> None:
    """Stop the local cluster `aiwo up` runs (in the background, or in another shell)."""
    directory = _directory(state_dir)
    pid = holder_pid(directory)
    if pid is None:
        raise CliError(f"no cluster is running in {directory}")
    if pid < 0:
        raise CliError(f"the cluster in {directory} is still starting; try again")
    try:
        os.kill(pid, signal.SIGTERM)  # `aiwo up` stops everything it started, then exits
    except ProcessLookupError:
        pass
    except PermissionError:
        raise CliError(f"not allowed to stop pid {pid} (the cluster in {directory})") from None
    deadline = time.monotonic() + timeout
    while holder_pid(directory) is not None:
        if time.monotonic() > deadline:
            raise CliError(f"the cluster in {directory} (pid {pid}) did not stop in {timeout:g}s")
        time.sleep(0.1)
    click.echo(f"stopped the cluster in {directory} (pid {pid})")


@click.command()
@_STATE_DIR
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(state_dir: Path | None, yes: bool) -> None:
    """Delete a stopped local cluster's state: etcd data, agents' state, logs, credentials.

    The next `aiwo up` starts from an empty cluster. Only what `aiwo up` puts in the
    directory is removed.
    """
    directory = _directory(state_dir)
    found = [p for p in entries(directory) if p.name != LOCK_FILE] if directory.is_dir() else []
    if not found:
        click.echo(f"nothing to reset in {directory}")
        return
    lock = ClusterLock(directory)
    try:
        lock.acquire()  # held while wiping: no `aiwo up` can start on it meanwhile
    except ClusterLocked as exc:
        who = f" (pid {exc.pid})" if exc.pid else ""
        raise CliError(
            f"a cluster is running in {directory}{who}; stop it first (`aiwo down`)"
        ) from None
    try:
        names = ", ".join(p.name for p in found)
        if not yes:
            click.confirm(f"Delete {names} in {directory}?", abort=True, err=True)
        wipe(found)
    finally:
        lock.release()
    (directory / LOCK_FILE).unlink(missing_ok=True)
    click.echo(f"reset {directory}: removed {names}")
