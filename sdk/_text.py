"""Counts and SLO targets in messages people read: "1 node", "2 nodes", never "1 nodes" or
"node(s)"; "TTFT 500 ms, TPOT 50 ms", or "-" for none.

Shared by the CLI and the controller's event and status messages (the controller imports
wire-side helpers from sdk, as it does `sdk._priority`)."""

from __future__ import annotations

from typing import Protocol


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count` and `noun`, plural unless the count is 1: plural(1, "node") -> "1 node",
    plural(0, "replica") -> "0 replicas"; `many` for a noun that does not take an -s
    (plural(2, "copy", "copies"))."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


class Targets(Protocol):
    """SLO targets in ms, 0 = none: the SDK's SloHints and the wire's both have these."""

    @property
    def ttft_ms(self) -> float: ...
    @property
    def tpot_ms(self) -> float: ...
    @property
    def p99_latency_ms(self) -> float: ...


def targets_text(slo: Targets) -> str:
    """ "TTFT 2000 ms, TPOT 100 ms" (the targets set); "-" for none."""
    targets = [
        f"{label} {value:g} ms"
        for label, value in (
            ("TTFT", slo.ttft_ms),
            ("TPOT", slo.tpot_ms),
            ("p99", slo.p99_latency_ms),
        )
        if value
    ]
    return ", ".join(targets) or "-"
