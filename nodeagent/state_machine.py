"""The agent's decisions as a pure state machine (after dask's worker_state_machine).

`AgentState.on_command(command, now)` does no I/O: it says whether to execute the command,
re-send an earlier ack (a redelivery), or refuse it (a stale epoch or a passed deadline).
The async layer carries the instruction out and reports the outcome back with `record`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from sdk.pb.aiwo.v1 import types_pb2

REMEMBERED_COMMANDS = 4096


@dataclass(frozen=True, slots=True)
class Execute:
    command: types_pb2.Command


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer without executing: a duplicate's earlier result, or a refusal."""

    ack: types_pb2.CommandAck


Instruction = Execute | Reply


class AgentState:
    def __init__(self, highest_epoch: int = 0) -> None:
        self.highest_epoch = highest_epoch
        self._results: OrderedDict[str, types_pb2.CommandAck] = OrderedDict()
        self._in_flight: set[str] = set()

    def on_command(self, command: types_pb2.Command, now: float) -> Instruction | None:
        """None means: already executing, the ack will follow."""
        if command.id in self._in_flight:
            return None
        earlier = self._results.get(command.id)
        if earlier is not None:
            return Reply(earlier)
        if command.epoch < self.highest_epoch:
            return Reply(
                types_pb2.CommandAck(
                    command_id=command.id,
                    ok=False,
                    reason=f"stale epoch {command.epoch} < {self.highest_epoch}",
                )
            )
        self.highest_epoch = max(self.highest_epoch, command.epoch)
        if command.deadline_unix and command.deadline_unix < now:
            return Reply(
                types_pb2.CommandAck(
                    command_id=command.id, ok=False, reason="deadline passed before execution"
                )
            )
        self._in_flight.add(command.id)
        return Execute(command)

    def restore(self, acks: Iterable[types_pb2.CommandAck]) -> None:
        """Outcomes remembered from before a restart (nodeagent/journal.py), oldest first."""
        for ack in acks:
            self._results[ack.command_id] = ack
            self._results.move_to_end(ack.command_id)
        while len(self._results) > REMEMBERED_COMMANDS:
            self._results.popitem(last=False)

    def record(self, ack: types_pb2.CommandAck) -> None:
        """Remember the outcome so a redelivered command is acked, not run again."""
        self._in_flight.discard(ack.command_id)
        self._results[ack.command_id] = ack
        while len(self._results) > REMEMBERED_COMMANDS:
            self._results.popitem(last=False)

    def seen_epoch(self, epoch: int) -> None:
        self.highest_epoch = max(self.highest_epoch, epoch)
