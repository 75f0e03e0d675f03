"""Typed plugin parameters: a frozen dataclass per plugin, checked when the plugin is built."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from controlplane.optimizer.errors import ConfigError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class NoArgs:
    """For plugins that take no parameters."""

    def check(self) -> list[tuple[str, str]]:
        return []


def parse_args(cls: type[T], args: Mapping[str, Any], where: str) -> T:
    """Build `cls` from plain values; every error names `where.<parameter>`."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in args.items():
        f = fields.get(key)
        if f is None:
            known = ", ".join(sorted(fields)) or "none"
            raise ConfigError(f"{where}.{key}", f"unknown parameter (known: {known})")
        expected = type(f.default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise ConfigError(f"{where}.{key}", f"expected {expected.__name__}, got {value!r}")
        values[key] = value
    config = cls(**values)
    for name, problem in config.check():  # type: ignore[attr-defined]
        raise ConfigError(f"{where}.{name}", problem)
    return config
