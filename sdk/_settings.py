"""The settings of a server process (aiwo-controller, aiwo-agent, aiwo-gateway) in layers: a
dataclass's defaults < a TOML file's table < PREFIX_NAME environment variables < flags. Here
because all stand on the SDK and on none of each other (tests/test_layering.py)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True,
             "0": False, "false": False, "no": False, "off": False}  # fmt: skip


def layered_settings(
    defaults: T,
    table: str,
    env_prefix: str,
    toml_path: str | Path | None,
    environ: Mapping[str, str] | None,
    overrides: Mapping[str, Any] | None,
    error: type[Exception],
) -> T:
    """`defaults` (a dataclass) changed by the file's [`table`] table (or its top level when it
    has none), then by `env_prefix` + NAME variables, then by the overrides that are not None;
    each value coerced to the type of its default. A bad or unknown setting raises `error`
    naming it. The caller checks the combination (its resolve or validate step)."""
    known = {f.name for f in fields(defaults)}
    changes: dict[str, Any] = {}

    def coerce(name: str, raw: Any) -> Any:
        current = getattr(defaults, name)
        if isinstance(current, tuple):  # "a, b" from the environment or a flag; a TOML list
            parts = raw.split(",") if isinstance(raw, str) else raw
            return tuple(str(part).strip() for part in parts if str(part).strip())
        if isinstance(current, bool) and isinstance(raw, str):
            if raw.lower() not in _BOOLEANS:
                raise error(f"{name}: cannot use {raw!r} (true or false)")
            return _BOOLEANS[raw.lower()]
        if isinstance(current, int) and isinstance(raw, float):
            raise error(f"{name}: expected an integer, got {raw!r}")
        try:
            return type(current)(raw)
        except (TypeError, ValueError):
            raise error(f"{name}: cannot use {raw!r}") from None

    if toml_path:
        try:
            data = tomllib.loads(Path(toml_path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise error(f"config file {toml_path}: {exc}") from None
        for key, value in data.get(table, data).items():
            if key not in known:
                raise error(f"config file {toml_path}: unknown setting {key!r}")
            changes[key] = coerce(key, value)
    env = os.environ if environ is None else environ
    for name in known:
        raw = env.get(env_prefix + name.upper())
        if raw is not None:
            changes[name] = coerce(name, raw)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in known:
            raise error(f"unknown setting {key!r}")
        changes[key] = coerce(key, value)
    return replace(defaults, **changes)
