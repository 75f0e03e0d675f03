"""`aiwo bench ...`: hand over to the `aiwo-bench` program (the git/kubectl plugin way).

The benchmarks import the optimizer core; the CLI must not (sdk imports nothing from
controlplane), so it replaces itself with the separate program instead.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from sdk.cli._app import CliError, state

PROGRAM = "aiwo-bench"


def find_program() -> str | None:
    override = os.environ.get("AIWO_BENCH")  # another build of the benchmarks, or a test stub
    if override:
        return override
    # Next to this interpreter first: a venv's bin/ is often not on PATH.
    beside = Path(sys.executable).parent / PROGRAM
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(PROGRAM)


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Run benchmarks: `aiwo bench placement ...` (see `aiwo bench --help`)."""
    program = find_program()
    if program is None:
        raise CliError(f"{PROGRAM} is not installed (it ships with the aiwo package)")
    controller = state().controller
    if controller:
        os.environ["AIWO_CONTROLLER"] = controller
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(program, [PROGRAM, *args])
