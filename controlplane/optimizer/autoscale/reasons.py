"""The numbers of a decision as short text: the reason line and the event's fields."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

_MEASURES = {"ttft": "TTFT", "tpot": "TPOT", "p99": "latency"}


def num(value: float) -> str:
    """212, 47.3, 1.6, 0.025: three significant digits, never an exponent for big numbers."""
    if value >= 100.0:
        return f"{value:.0f}"
    return f"{value:.3g}"


def duration_ms(value_ms: float) -> str:
    if value_ms >= 1000.0:
        return f"{num(value_ms / 1000.0)} s"
    return f"{num(value_ms)} ms"


def slo_text(measure: str, p99_ms: float, target_ms: float) -> str:
    """e.g. "TTFT p99 1.6 s <= 2 s"."""
    sign = "<=" if p99_ms <= target_ms else ">"
    name = _MEASURES.get(measure, measure)
    return f"{name} p99 {duration_ms(p99_ms)} {sign} {duration_ms(target_ms)}"


class Fields(Mapping[str, str]):
    """The event's fields, formatted when read: the bench makes 1.2 M decisions per run and
    reads almost none of them, the controller reads those it records."""

    __slots__ = ("_raw",)

    def __init__(self, raw: dict[str, float | int | bool]) -> None:
        self._raw = raw

    def __getitem__(self, key: str) -> str:
        value = self._raw[key]
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        return num(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return repr(dict(self))
