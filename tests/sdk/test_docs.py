"""The complete programs in docs/sdk.md run against the real controller."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sdk.processes import LocalControlPlane

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
# Fragments (no connect call) illustrate a point; whole programs must run.
PROGRAMS = [block for block in BLOCKS if ".connect(" in block]


def test_the_doc_has_programs() -> None:
    assert len(PROGRAMS) >= 3


@pytest.mark.parametrize("index", range(len(PROGRAMS)))
def test_doc_program_runs(plane: LocalControlPlane, index: int) -> None:
    env = {**os.environ, "AIWO_CONTROLLER": plane.address}
    result = subprocess.run(
        [sys.executable, "-c", PROGRAMS[index]], env=env, capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 0, result.stdout + result.stderr
