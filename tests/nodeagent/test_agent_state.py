"""The agent's pure command state machine: fencing, idempotency, deadlines."""

from nodeagent.state_machine import AgentState, Execute, Reply
from sdk.pb.aiwo.v1 import types_pb2


def command(cid: str, epoch: int, deadline: float = 0.0) -> types_pb2.Command:
    return types_pb2.Command(
        id=cid,
        epoch=epoch,
        deadline_unix=deadline,
        reset_clocks=types_pb2.ResetClocks(gpu_index=0),
    )


def test_new_command_is_executed_and_raises_the_epoch() -> None:
    state = AgentState()
    assert isinstance(state.on_command(command("a", 5), now=0), Execute)
    assert state.highest_epoch == 5


def test_stale_epoch_is_refused_with_the_numbers() -> None:
    state = AgentState(highest_epoch=7)
    result = state.on_command(command("a", 6), now=0)
    assert isinstance(result, Reply) and not result.ack.ok
    assert result.ack.reason == "stale epoch 6 < 7"


def test_redelivered_command_is_acked_again_not_run_again() -> None:
    state = AgentState()
    assert isinstance(state.on_command(command("a", 1), now=0), Execute)
    assert state.on_command(command("a", 1), now=0) is None  # still running
    state.record(types_pb2.CommandAck(command_id="a", ok=True))
    again = state.on_command(command("a", 1), now=0)
    assert isinstance(again, Reply) and again.ack.ok


def test_deadline_passed_is_a_failed_ack() -> None:
    state = AgentState()
    result = state.on_command(command("a", 1, deadline=10.0), now=11.0)
    assert isinstance(result, Reply) and "deadline" in result.ack.reason


def test_memory_of_results_is_bounded() -> None:
    state = AgentState()
    for i in range(5000):
        state.on_command(command(f"c{i}", 1), now=0)
        state.record(types_pb2.CommandAck(command_id=f"c{i}", ok=True))
    assert isinstance(state.on_command(command("c0", 1), now=0), Execute)
    assert isinstance(state.on_command(command("c4999", 1), now=0), Reply)


def test_an_election_under_way_keeps_the_reconnect_backoff_short() -> None:
    from controlplane.rpc.common import ELECTING_METADATA_KEY
    from nodeagent.agent import ELECTION_RETRY_S, backoff_after_refusal

    electing = {ELECTING_METADATA_KEY: "1"}
    assert backoff_after_refusal(6.4, electing) == ELECTION_RETRY_S == 1.0
    assert backoff_after_refusal(0.4, electing) == 0.4  # never longer than it was
    assert backoff_after_refusal(6.4, {}) == 6.4  # down or refusing otherwise: keep backing off
