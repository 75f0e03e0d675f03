"""The two bidirectional streams, fed random and out-of-order messages.

Agents: telemetry before the hello, a hello for another node, acks for commands that do
not exist, a second hello mid-stream, empty messages. Applications: metrics before the
hello, acks for unknown directives. Each stream must end with a proper status; a refused
stream changes nothing, and an accepted one changes only what its messages may change.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import grpc
from google.protobuf.message import Message
from hypothesis import event, given, settings
from hypothesis import strategies as st

from controlplane.app.server import Controller
from controlplane.leader.decisions import Batch
from controlplane.rpc.validation import MAX_EVENT_MESSAGE_CHARS, PROCESS_EVENT_KINDS
from sdk.pb.aiwo.v1 import node_pb2, types_pb2, workload_pb2
from tests.fuzz.harness import (
    CALL_TIMEOUT_S,
    FUZZ,
    assert_alive,
    check_status,
    diff,
    snapshot,
)
from tests.fuzz.strategies import (
    VALID_NAMES,
    messages,
    metrics_reports,
    odd_text,
    telemetry_reports,
)

NODE = "node-a"  # registered by the `seeded` fixture, with 8 GPUs
WORKLOAD = ("default", "web")
CONNECT = "/aiwo.v1.NodeService/Connect"
ATTACH = "/aiwo.v1.WorkloadService/Attach"


def _stream_status(
    channel: grpc.Channel, method: str, response: type[Message], sequence: Sequence[Message]
) -> tuple[grpc.StatusCode, str]:
    """Write every message, close our side, read to the end: the stream's final status.

    Blocking API on purpose: the asyncio client reports INTERNAL "Internal error from Core"
    instead of the server's status when a write races the server ending the stream
    (grpc/grpc#36066), which is just what these sequences do.
    """
    call = channel.stream_stream(
        method,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response.FromString,
    )(iter(sequence), timeout=CALL_TIMEOUT_S)
    with contextlib.suppress(grpc.RpcError):
        for _ in call:
            pass
    return call.code(), call.details() or ""


async def run_stream(
    address: str, method: str, response: type[Message], sequence: Sequence[Message]
) -> tuple[grpc.StatusCode, str]:
    with grpc.insecure_channel(address) as channel:
        return await asyncio.to_thread(_stream_status, channel, method, response, sequence)


def _agent_message(**body: Message) -> node_pb2.AgentMessage:
    return node_pb2.AgentMessage(**body)  # type: ignore[arg-type]


def _agent_first() -> st.SearchStrategy[node_pb2.AgentMessage]:
    hello = st.builds(
        node_pb2.AgentHello,
        node=st.one_of(st.just(NODE), st.just(NODE), VALID_NAMES, odd_text()),
        session_id=odd_text(20),
        highest_epoch_seen=st.integers(-(2**63), 2**63 - 1),
    )
    return st.one_of(
        hello.map(lambda h: _agent_message(hello=h)),
        hello.map(lambda h: _agent_message(hello=h)),
        messages(node_pb2.AgentMessage),  # telemetry or an ack before any hello, or nothing
    )


def _agent_rest(command_ids: list[str]) -> st.SearchStrategy[node_pb2.AgentMessage]:
    known_id = st.sampled_from(command_ids) if command_ids else st.just("")
    ack = st.builds(
        types_pb2.CommandAck,
        command_id=st.one_of(known_id, known_id, odd_text(40)),
        ok=st.booleans(),
        reason=odd_text(),
    )
    process_event = st.builds(
        node_pb2.ProcessEvent,
        workload=st.one_of(st.just("default/web"), odd_text(40)),
        kind=st.one_of(st.sampled_from(("started", "exited", "restarted")), odd_text(20)),
        pid=st.integers(-(2**31), 2**31 - 1),
        exit_code=st.integers(-(2**31), 2**31 - 1),
        signal=odd_text(12),
        detail=odd_text(),
        time_unix=st.floats(allow_nan=True),
    )
    return st.one_of(
        telemetry_reports(8).map(lambda t: _agent_message(telemetry=t)),
        ack.map(lambda a: _agent_message(ack=a)),
        process_event.map(lambda p: _agent_message(process_event=p)),
        messages(node_pb2.AgentMessage),
    )


async def _seed_commands(controller: Controller, count: int) -> list[str]:
    batch = Batch()
    now = time.time()
    for index in range(count):
        controller.decisions.stage_command(
            batch, NODE, now, reset_power_limit=types_pb2.ResetPowerLimit(gpu_index=index)
        )
    await controller.decisions.commit(batch)
    return [command.id for _, command in batch.commands]


@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_agent_stream(
    seeded: Controller, channel: grpc.aio.Channel, data: st.DataObject
) -> None:
    command_ids = await _seed_commands(seeded, 2)
    first = data.draw(_agent_first(), label="first")
    rest = data.draw(st.lists(_agent_rest(command_ids), max_size=6), label="rest")
    before = await snapshot(seeded)
    refused, after, changed = await _streamed(
        seeded, CONNECT, node_pb2.ControllerMessage, "NodeService/Connect", [first, *rest], before
    )
    if not refused:
        # Accepted, or refused mid-stream: the messages before the bad one took effect, and
        # only what an agent's messages may change has changed.
        acked = {m.ack.command_id for m in rest if m.WhichOneof("body") == "ack"}
        known = acked & set(command_ids)
        allowed = {f"-{seeded.keys.command(NODE, i)}" for i in known}
        for kind, fields in new_events(seeded, before, after):
            # Only what the agent may say: its commands failed, its processes' lives.
            if kind == "command_failed":
                assert fields["command_id"] in known, f"an event for an unknown command: {fields}"
            else:
                assert kind in {f"process_{k}" for k in PROCESS_EVENT_KINDS}, kind
        unexpected = [
            c for c in changed if c not in allowed and not c[1:].startswith(seeded.keys.events)
        ]
        assert not unexpected, f"the stream changed {unexpected}"
    await assert_alive(seeded, channel)


async def _streamed(
    seeded: Controller,
    path: str,
    response: type[Message],
    method: str,
    messages: Sequence[Message],
    before: dict[str, bytes],
) -> tuple[bool, dict[str, bytes], list[str]]:
    """Send `messages` down the stream: (refused at its hello, the store after, what changed).
    The status is checked; a stream refused at its hello changed nothing."""
    code, details = await run_stream(seeded.address, path, response, messages)
    check_status(code, details, method, messages)
    event(code.name)
    after = await snapshot(seeded)
    changed = diff(before, after)
    refused = _refused_at_hello(code, details)
    if refused:
        assert not changed, f"refused ({code.name}: {details}) but changed {changed}"
    return refused, after, changed


def _refused_at_hello(code: grpc.StatusCode, details: str) -> bool:
    """Refused before any message took effect: the first message was no (good) hello."""
    if code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
        return True
    return code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(
        ("hello", "name", "namespace")
    )


def new_events(
    controller: Controller, before: dict[str, bytes], after: dict[str, bytes]
) -> list[tuple[str, dict[str, str]]]:
    found = []
    for key in after.keys() - before.keys():
        if key.startswith(controller.keys.events):
            event = types_pb2.Event.FromString(after[key])
            assert len(event.message) <= MAX_EVENT_MESSAGE_CHARS, "an unbounded event message"
            found.append((event.kind, dict(event.fields)))
    return found


def _app_first() -> st.SearchStrategy[workload_pb2.AppMessage]:
    hello = st.builds(
        workload_pb2.AttachHello,
        namespace=st.one_of(st.just(WORKLOAD[0]), VALID_NAMES, odd_text()),
        name=st.one_of(st.just(WORKLOAD[1]), VALID_NAMES, odd_text()),
    )
    return st.one_of(
        hello.map(lambda h: workload_pb2.AppMessage(hello=h)),
        messages(workload_pb2.AppMessage),  # metrics or an ack before the hello
    )


def _app_rest() -> st.SearchStrategy[workload_pb2.AppMessage]:
    return st.one_of(
        metrics_reports().map(lambda m: workload_pb2.AppMessage(metrics=m)),
        messages(workload_pb2.AppMessage),
    )


@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_app_stream(
    seeded: Controller, channel: grpc.aio.Channel, data: st.DataObject
) -> None:
    first = data.draw(_app_first(), label="first")
    rest = data.draw(st.lists(_app_rest(), max_size=6), label="rest")
    before = await snapshot(seeded)
    refused, after, changed = await _streamed(
        seeded, ATTACH, types_pb2.Directive, "WorkloadService/Attach", [first, *rest], before
    )
    if not refused:  # only the decision log: failed directive acks are recorded
        assert all(c[1:].startswith(seeded.keys.events) for c in changed), changed
        assert all(kind == "directive_failed" for kind, _ in new_events(seeded, before, after))
    await assert_alive(seeded, channel)
