"""Recent command outcomes on disk, so that a restarted agent re-acks instead of re-running.

Commands stay in etcd until acked, so an agent that dies after executing one but before its
ack reached the controller gets it again after the restart. Its in-memory results are gone
then; this journal keeps them. One JSON line per step, appended:

    {"id": "…", "step": "started"}                 before the command runs
    {"id": "…", "step": "done", "ok": true, "reason": ""}   after

A command that started but never finished was interrupted by the restart: its effect is
unknown, so it is not run again (at most once) but acked as failed with that reason, and
the controller decides what to do. The file is rewritten with the newest `keep` outcomes
when it holds twice that many lines. No fsync: the journal must survive the agent's
process dying, and the page cache does; a host crash also ends the processes and resets
the GPUs' settings that commands change.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

import structlog

from sdk.pb.aiwo.v1 import types_pb2

log = structlog.get_logger("aiwo.agent.journal")

KEPT_OUTCOMES = 1024
INTERRUPTED_REASON = (
    "interrupted by an agent restart before it finished; not run again (its effect is unknown)"
)


class CommandJournal:
    def __init__(self, path: Path, keep: int = KEPT_OUTCOMES) -> None:
        self.path = path
        self.keep = keep
        self._outcomes: OrderedDict[str, types_pb2.CommandAck | None] = OrderedDict()
        self._lines = 0

    def load(self) -> list[types_pb2.CommandAck]:
        """The remembered outcomes, oldest first; interrupted commands as failed acks."""
        self._outcomes.clear()
        self._lines = 0
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("command_journal_unreadable", path=str(self.path), error=str(exc))
            return []
        for line in text.splitlines():
            self._lines += 1
            try:
                entry = json.loads(line)
                command_id = str(entry["id"])
                if entry["step"] == "started":
                    self._remember(command_id, None)
                else:
                    ack = types_pb2.CommandAck(
                        command_id=command_id, ok=bool(entry["ok"]), reason=str(entry["reason"])
                    )
                    self._remember(command_id, ack)
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by the crash: the step it meant did not finish
        acks = []
        for command_id, outcome in self._outcomes.items():
            if outcome is None:
                outcome = types_pb2.CommandAck(
                    command_id=command_id, ok=False, reason=INTERRUPTED_REASON
                )
                self._outcomes[command_id] = outcome
            acks.append(outcome)
        return acks

    def started(self, command_id: str) -> None:
        self._remember(command_id, None)
        self._append({"id": command_id, "step": "started"})

    def finished(self, ack: types_pb2.CommandAck) -> None:
        self._remember(ack.command_id, ack)
        self._append({"id": ack.command_id, "step": "done", "ok": ack.ok, "reason": ack.reason})

    def _remember(self, command_id: str, ack: types_pb2.CommandAck | None) -> None:
        self._outcomes[command_id] = ack
        self._outcomes.move_to_end(command_id)
        while len(self._outcomes) > self.keep:
            self._outcomes.popitem(last=False)

    def _append(self, entry: dict[str, object]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._lines >= 2 * self.keep:
                self._compact()
            with self.path.open("a") as f:
                f.write(json.dumps(entry) + "\n")
            self._lines += 1
        except OSError as exc:  # a full or read-only disk must not stop commands
            log.warning("command_journal_write_failed", path=str(self.path), error=str(exc))

    def _compact(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        lines = []
        for command_id, ack in self._outcomes.items():
            if ack is None:
                lines.append(json.dumps({"id": command_id, "step": "started"}))
            else:
                lines.append(
                    json.dumps(
                        {"id": command_id, "step": "done", "ok": ack.ok, "reason": ack.reason}
                    )
                )
        tmp.write_text("".join(line + "\n" for line in lines))
        os.replace(tmp, self.path)
        self._lines = len(lines)
