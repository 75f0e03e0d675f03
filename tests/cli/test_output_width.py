"""How wide the CLI draws when its output is not a terminal: COLUMNS when set (`watch`, CI
logs, `COLUMNS=100 aiwo gpus | less`), else wide enough that rows never wrap."""

from __future__ import annotations

import os
import subprocess

import pytest

from sdk.cli._render import PIPED_WIDTH, output_width
from tests.cli.test_bad_input import AIWO
from tests.cli.test_cli import wait_for_node
from tests.sdk.processes import LocalControlPlane


@pytest.mark.parametrize(
    ("is_terminal", "environ", "width"),
    [
        (False, {"COLUMNS": "100"}, 100),
        (False, {"COLUMNS": " 72 "}, 72),
        (False, {}, PIPED_WIDTH),
        (False, {"COLUMNS": "0"}, PIPED_WIDTH),  # nonsense is ignored, not a zero-wide table
        (False, {"COLUMNS": "wide"}, PIPED_WIDTH),
        (False, {"COLUMNS": "-5"}, PIPED_WIDTH),
        (True, {"COLUMNS": "90"}, 90),
        (True, {}, None),  # the terminal's own width
    ],
)
def test_output_width(is_terminal: bool, environ: dict[str, str], width: int | None) -> None:
    assert output_width(is_terminal, environ) == width


def piped(plane: LocalControlPlane, columns: str | None, *args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    result = subprocess.run(
        [*AIWO, "--controller", plane.address, *args],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_a_piped_table_honours_columns(plane: LocalControlPlane) -> None:
    wait_for_node(plane)
    narrow = piped(plane, "60", "gpus")
    assert narrow and max(map(len, narrow)) <= 60
    # Unset: one row per GPU on one line each (the 8 GPUs and the header), wider than 80.
    wide = piped(plane, None, "gpus")
    assert max(map(len, wide)) > 80
    assert sum("node-1" in line for line in wide) == 8
