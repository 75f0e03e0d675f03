"""The process events a supervisor under test sends out, collected for the tests to wait on."""

from __future__ import annotations

from collections.abc import Callable

from nodeagent.launch import ProcessEvent
from tests.helpers import assert_eventually


class Recorder:
    """Collects events; `wait_for` polls instead of sleeping. `hook`, when set, sees each event
    as it arrives (a test acts at an exact point of a replica's life)."""

    def __init__(self) -> None:
        self.events: list[ProcessEvent] = []
        self.hook: Callable[[ProcessEvent], None] | None = None

    def __call__(self, event: ProcessEvent) -> None:
        self.events.append(event)
        if self.hook is not None:
            self.hook(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    async def wait_for(self, kind: str, count: int = 1, timeout_s: float = 15.0) -> ProcessEvent:
        def found() -> list[ProcessEvent]:
            matching = [e for e in self.events if e.kind == kind]
            return matching if len(matching) >= count else []

        matching = await assert_eventually(found, timeout_s, message=f"{count} {kind!r} events")
        return matching[count - 1]
