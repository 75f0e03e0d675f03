"""Configuration errors name the field at fault, e.g. `plugin_args.fgd.coverage`."""

from __future__ import annotations


class ConfigError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
