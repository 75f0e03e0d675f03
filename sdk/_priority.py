"""Priority classes: names people use for the 0..1000 integer the optimizer compares.

The controller resolves the same names (a named class wins over the integer). The gaps
between classes leave room for integers in between, e.g. 600 for "a bit above normal".
"""

from __future__ import annotations

from types import MappingProxyType

from sdk._errors import InvalidArgument

PRIORITY_CLASSES: MappingProxyType[str, int] = MappingProxyType(
    {
        "critical": 1000,
        "high": 750,
        "normal": 500,
        "low": 250,
        "batch": 100,
        "best-effort": 0,
    }
)
DEFAULT_PRIORITY_CLASS = "normal"
MIN_PRIORITY, MAX_PRIORITY = 0, 1000


def resolve_priority(priority: str | int | None) -> tuple[str, int]:
    """A class name or an integer -> (`priority_class` to send, integer priority).

    Errors use the controller's wording, "<field path>: <problem>", so both read alike.

    An integer that equals a class's value is sent as that class: the wire treats an
    integer 0 as "unset" (normal), so best-effort has to travel by name.
    """
    if priority is None:
        return DEFAULT_PRIORITY_CLASS, PRIORITY_CLASSES[DEFAULT_PRIORITY_CLASS]
    if isinstance(priority, bool):  # bool is an int in Python; True is not a priority
        raise InvalidArgument(
            "spec.priority: must be a class name or an integer", field="spec.priority"
        )
    if isinstance(priority, int):
        if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            raise InvalidArgument(
                f"spec.priority: must be between {MIN_PRIORITY} and {MAX_PRIORITY}, got {priority}",
                field="spec.priority",
            )
        return class_of(priority) or "", priority
    name = priority.strip().lower()
    if name.lstrip("-").isdigit():
        return resolve_priority(int(name))
    if name not in PRIORITY_CLASSES:
        known = ", ".join(PRIORITY_CLASSES)
        raise InvalidArgument(
            f"spec.priority_class: unknown class {priority!r} (known: {known})",
            field="spec.priority_class",
        )
    return name, PRIORITY_CLASSES[name]


def class_of(priority: int) -> str | None:
    """The class whose value is exactly `priority`, if any (for display)."""
    for name, value in PRIORITY_CLASSES.items():
        if value == priority:
            return name
    return None
