"""Counts in messages people read: "1 node", "2 nodes", never "1 nodes" or "node(s)".

Shared by the CLI and the controller's event and status messages (the controller imports
wire-side helpers from sdk, as it does `sdk._priority`)."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count` and `noun`, plural unless the count is 1: plural(1, "node") -> "1 node",
    plural(0, "replica") -> "0 replicas"; `many` for a noun that does not take an -s
    (plural(2, "copy", "copies"))."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
