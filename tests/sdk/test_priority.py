from __future__ import annotations

import pytest

from sdk import PRIORITY_CLASSES, InvalidArgument, resolve_priority


def test_the_class_table() -> None:
    assert dict(PRIORITY_CLASSES) == {
        "critical": 1000,
        "high": 750,
        "normal": 500,
        "low": 250,
        "batch": 100,
        "best-effort": 0,
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, ("normal", 500)),
        ("high", ("high", 750)),
        (" Batch ", ("batch", 100)),
        ("best-effort", ("best-effort", 0)),
        (600, ("", 600)),
        ("600", ("", 600)),
        (750, ("high", 750)),  # an integer equal to a class travels as the class
        (0, ("best-effort", 0)),  # the wire reads integer 0 as "unset"; the name is not
        (1000, ("critical", 1000)),
    ],
)
def test_resolve(given: str | int | None, expected: tuple[str, int]) -> None:
    assert resolve_priority(given) == expected


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ("urgent", "spec.priority_class"),
        (1001, "spec.priority"),
        (-1, "spec.priority"),
        (True, "spec.priority"),
    ],
)
def test_bad_priorities_name_the_field(given: object, field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        resolve_priority(given)  # type: ignore[arg-type]
    assert info.value.field == field
