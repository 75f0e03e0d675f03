"""The agent's command journal: outcomes survive a restart, bounded, crash-tolerant."""

from __future__ import annotations

from pathlib import Path

from nodeagent.journal import INTERRUPTED_REASON, CommandJournal
from nodeagent.state_machine import AgentState, Execute, Reply
from sdk.pb.aiwo.v1 import types_pb2


def _command(cid: str) -> types_pb2.Command:
    return types_pb2.Command(id=cid, epoch=1, reset_clocks=types_pb2.ResetClocks(gpu_index=0))


def test_outcomes_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = CommandJournal(path)
    journal.started("a")
    journal.finished(types_pb2.CommandAck(command_id="a", ok=True))
    journal.started("b")
    journal.finished(types_pb2.CommandAck(command_id="b", ok=False, reason="no such GPU"))

    state = AgentState()
    state.restore(CommandJournal(path).load())  # a new process reads what the old one wrote
    replies = [state.on_command(_command(cid), now=0) for cid in ("a", "b")]
    assert all(isinstance(r, Reply) for r in replies)
    assert [(r.ack.ok, r.ack.reason) for r in replies] == [(True, ""), (False, "no such GPU")]  # type: ignore[union-attr]
    assert isinstance(state.on_command(_command("c"), now=0), Execute)


def test_a_command_interrupted_by_the_restart_is_not_run_again(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    CommandJournal(path).started("a")  # ... and the process died before it finished
    state = AgentState()
    state.restore(CommandJournal(path).load())
    reply = state.on_command(_command("a"), now=0)
    assert isinstance(reply, Reply) and not reply.ack.ok
    assert reply.ack.reason == INTERRUPTED_REASON


def test_a_line_cut_short_by_a_crash_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = CommandJournal(path)
    journal.started("a")
    journal.finished(types_pb2.CommandAck(command_id="a", ok=True))
    with path.open("a") as f:
        f.write('{"id": "b", "st')  # the write the crash interrupted
    acks = CommandJournal(path).load()
    assert [(a.command_id, a.ok) for a in acks] == [("a", True)]


def test_the_journal_is_compacted_to_its_bound(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = CommandJournal(path, keep=10)
    for i in range(100):
        journal.started(f"c{i}")
        journal.finished(types_pb2.CommandAck(command_id=f"c{i}", ok=True))
    assert len(path.read_text().splitlines()) <= 2 * 10 + 1
    acks = CommandJournal(path, keep=10).load()
    assert [a.command_id for a in acks] == [f"c{i}" for i in range(90, 100)]


def test_an_unwritable_journal_does_not_stop_commands(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    journal = CommandJournal(blocker / "journal.jsonl")  # its parent is a file
    journal.started("a")
    journal.finished(types_pb2.CommandAck(command_id="a", ok=True))
    assert CommandJournal(blocker / "journal.jsonl").load() == []
