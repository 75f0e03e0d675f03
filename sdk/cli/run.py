"""`aiwo run` and `aiwo logs`: workloads the node agent runs, from the command line."""

from __future__ import annotations

import sys
import time

import click

from sdk import AiwoError, LaunchSpec, Resources, RestartPolicy, SyncAdminClient, resolve_priority
from sdk.cli._app import Seconds, key_values, namespace_option, output_option, state
from sdk.cli.workload import ask_options, show_registered

_RESTART = {"never": RestartPolicy.NEVER, "on-failure": RestartPolicy.ON_FAILURE}


@click.command()
@click.argument("name")
@namespace_option
@ask_options
@click.option(
    "--restart",
    type=click.Choice(sorted(_RESTART)),
    default="never",
    show_default=True,
    help="Restart after a failure (with backoff) or not.",
)
@click.option("--env", "env", multiple=True, help="KEY=VALUE for the process; repeatable.")
@click.option("--workdir", default="", help="Working directory on the node.")
@click.option("--wait/--no-wait", default=False, help="Wait until it is placed.")
@click.option("--timeout", default=30.0, type=Seconds(), show_default=True, help="For --wait (s).")
@output_option
@click.argument("command", nargs=-1, required=True, metavar="-- COMMAND [ARGS]...")
def run(
    name: str,
    namespace: str | None,
    priority: str,
    gpus: int,
    milli_gpu: int,
    restart: str,
    env: tuple[str, ...],
    workdir: str,
    wait: bool,
    timeout: float,
    output: str,
    command: tuple[str, ...],
) -> None:
    """Register a workload that the agent of the node it is placed on starts.

    The process gets CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES for its GPUs and
    AIWO_WORKLOAD, AIWO_CHECKPOINT_DIR and AIWO_CONTROLLER; its stdout and stderr are kept on
    the node (`aiwo logs NAME`). Example:

        aiwo run counter --restart on-failure -- python -m sdk.examples.counter
    """
    resolve_priority(priority)  # a typo is reported without a round trip
    launch = LaunchSpec(
        command=command,
        env=key_values(env, "--env"),
        working_dir=workdir,
        restart_policy=_RESTART[restart],
    )
    client = state().client()
    handle = client.register(
        name,
        namespace=namespace,
        priority=priority,
        resources=Resources(gpus=gpus, milli_gpu=milli_gpu),
        launch=launch,
    )
    show_registered(handle, wait=wait, timeout=timeout, output=output, placed="runs on")


@click.command()
@click.argument("workload")
@namespace_option
@click.option("--stderr", is_flag=True, help="Standard error instead of standard output.")
@click.option(
    "--tail",
    "tail_lines",
    default=None,
    type=click.IntRange(min=0),
    help="Only the last N lines (default: all that was fetched).",
)
@click.option(
    "--limit-bytes",
    default=64 * 1024,
    type=click.IntRange(1, 1024 * 1024),
    show_default=True,
    help="Fetch at most this many bytes from the end of the file.",
)
@click.option("--node", default=None, help="Read on this node (e.g. where it ran before).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing what is added (Ctrl-C stops).")
def logs(
    workload: str,
    namespace: str | None,
    stderr: bool,
    tail_lines: int | None,
    limit_bytes: int,
    node: str | None,
    follow: bool,
) -> None:
    """Show the end of a managed workload's output, fetched from its node through the
    controller (`--node` for where it ran before a migration)."""
    admin = state().admin()
    result = admin.logs(workload, namespace, stderr=stderr, tail_bytes=limit_bytes, node=node)
    data = result.data
    if tail_lines is not None:
        data = _last_lines(data, tail_lines)
    elif result.truncated and not follow:
        click.echo(
            f"[last {len(result.data)} of {result.size_bytes} bytes on {result.node}]", err=True
        )
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    if not stderr and not result.data and not follow:
        _hint_stderr(admin, workload, namespace, result.node)
    size = result.size_bytes
    while follow:
        time.sleep(1.0)
        try:
            result = admin.logs(
                workload, namespace, stderr=stderr, tail_bytes=1024 * 1024, node=result.node
            )
        except KeyboardInterrupt:
            return
        if result.size_bytes > size:
            new = result.size_bytes - size
            sys.stdout.buffer.write(result.data[-new:] if new <= len(result.data) else result.data)
            sys.stdout.flush()
        size = result.size_bytes


STDERR_HINT_LINES = 20  # enough for a Python traceback's end


def _last_lines(data: bytes, count: int) -> bytes:
    return b"".join(data.splitlines(keepends=True)[-count:]) if count else b""


def _hint_stderr(admin: SyncAdminClient, workload: str, namespace: str | None, node: str) -> None:
    """No standard output: a process that failed at once (a missing module, a wrong
    command) said why on standard error. Show its end there, so that `aiwo logs NAME` of a
    failed workload is never silent."""
    try:
        err = admin.logs(workload, namespace, stderr=True, tail_bytes=16 * 1024, node=node)
    except AiwoError:
        return
    if not err.data:
        _hint_status(admin, workload, namespace, node)
        return
    tail = _last_lines(err.data, STDERR_HINT_LINES)
    click.echo(f"[no standard output on {node}; the end of standard error (--stderr):]", err=True)
    sys.stderr.buffer.write(tail if tail.endswith(b"\n") else tail + b"\n")
    sys.stderr.flush()


def _hint_status(admin: SyncAdminClient, workload: str, namespace: str | None, node: str) -> None:
    """No output at all (e.g. its command could not be started): say what became of it."""
    try:
        described = admin.describe_workload(workload, namespace).workload
    except AiwoError:
        return
    if described is not None and described.message:
        click.echo(f"[no output on {node}; {described.phase}: {described.message}]", err=True)
