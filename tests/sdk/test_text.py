"""Counts read as English: "1 node", "2 nodes" (sdk._text.plural, used by the CLI and the
controller's messages)."""

from __future__ import annotations

import pytest

from sdk._text import plural


@pytest.mark.parametrize(
    ("count", "noun", "many", "text"),
    [
        (1, "node", None, "1 node"),
        (0, "node", None, "0 nodes"),
        (2, "replica", None, "2 replicas"),
        (1, "process", "processes", "1 process"),
        (3, "process", "processes", "3 processes"),
        (1, "simulated H100 GPU", None, "1 simulated H100 GPU"),
    ],
)
def test_plural(count: int, noun: str, many: str | None, text: str) -> None:
    assert plural(count, noun, many) == text
