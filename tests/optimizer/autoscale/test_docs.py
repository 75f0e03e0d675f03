"""The example in docs/autoscaling.md runs, and every config field is documented there."""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import fields
from pathlib import Path

from controlplane.optimizer.autoscale import AutoscaleConfig

DOC = Path(__file__).resolve().parents[3] / "docs" / "autoscaling.md"


def test_the_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], str(DOC), "exec"), {})  # our own doc's example
    assert "default/chat" in out.getvalue()


def test_every_knob_is_in_the_table() -> None:
    text = DOC.read_text()
    missing = [f.name for f in fields(AutoscaleConfig) if f"`{f.name}`" not in text]
    assert missing == []
