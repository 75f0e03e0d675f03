"""Service replicas under the supervisor with real processes: a port each, health probes,
ready/unready events, crash-loop backoff, the stop grace, and the port taken meanwhile."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nodeagent.agent import Agent
from nodeagent.config import AgentConfig
from nodeagent.executor import Executor
from nodeagent.gpu.sim import SimulatedGpuBackend
from nodeagent.launch import LaunchSpec, ProcessEvent
from nodeagent.probe import ReplicaProber, http_status
from nodeagent.supervisor import Supervisor
from sdk.pb.aiwo.v1 import types_pb2
from tests.helpers import assert_eventually
from tests.nodeagent.process_events import Recorder

PY = sys.executable
SERVER = str(Path(__file__).with_name("replica_server.py"))
REPLICA = "shop/chat-0"


@pytest.fixture
def events() -> Recorder:
    return Recorder()


@pytest.fixture
async def prober(events: Recorder) -> AsyncIterator[ReplicaProber]:
    probes = ReplicaProber(events, interval_s=0.2, timeout_s=1.0)
    yield probes
    await probes.close()


@pytest.fixture
async def supervisor(
    tmp_path: Path, events: Recorder, prober: ReplicaProber
) -> AsyncIterator[Supervisor]:
    sup = Supervisor(
        tmp_path / "logs", tmp_path / "ckpt", "127.0.0.1:7070", on_event=events,
        base_env={"PATH": "/usr/bin:/bin"}, leftover_grace_s=0.5, replicas=prober,
    )  # fmt: skip
    yield sup
    await sup.shutdown(grace_s=1.0)
    assert sup.running() == {}


def replica(env: dict[str, str] | None = None, **options: object) -> LaunchSpec:
    return LaunchSpec(
        command=(PY, SERVER), env={"AIWO_REPLICA": "0", **(env or {})}, serve=True,
        restart_policy="always", **options,  # type: ignore[arg-type]
    )  # fmt: skip


def get_json(port: int, path: str) -> dict[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
        return json.loads(reply.read())  # type: ignore[no-any-return]


async def test_a_replica_gets_a_port_and_is_ready_once_it_answers(
    supervisor: Supervisor, events: Recorder
) -> None:
    pid = await supervisor.start(REPLICA, "uid-1", replica(), [0])
    started = await events.wait_for("started")
    assert started.port > 0 and started.pid == pid
    assert supervisor.port(REPLICA) == started.port
    ready = await events.wait_for("ready")
    assert (ready.port, ready.pid) == (started.port, pid)
    seen = await asyncio.to_thread(get_json, started.port, "/env")
    assert seen["AIWO_PORT"] == str(started.port)
    assert seen["AIWO_REPLICA"] == "0"  # from the launch spec, kept

    exited = await supervisor.stop(REPLICA, grace_s=5.0)
    assert exited is not None and exited.outcome == "stopped"
    # Out of the endpoints before the exit is reported.
    assert events.kinds()[-2:] == ["unready", "exited"]


async def test_unready_when_the_health_path_stops_answering_200_and_ready_again(
    supervisor: Supervisor, events: Recorder, tmp_path: Path
) -> None:
    flag = tmp_path / "unhealthy"
    flag.touch()  # a replica still loading: answers 503
    spec = replica({"UNHEALTHY_FILE": str(flag)}, health_path="/ready")
    await supervisor.start(REPLICA, "uid-1", spec, [])
    started = await events.wait_for("started")
    assert await http_status("127.0.0.1", started.port, "/ready", 2.0) in (503, None)
    assert "ready" not in events.kinds()
    flag.unlink()
    await events.wait_for("ready")
    flag.touch()
    unready = await events.wait_for("unready")
    assert unready.port == started.port and "503" in unready.detail
    flag.unlink()
    await events.wait_for("ready", count=2)
    assert supervisor.pid(REPLICA) == started.pid  # probes never restart a replica


async def test_a_replica_that_exits_at_once_is_restarted_with_growing_backoff(
    supervisor: Supervisor, events: Recorder
) -> None:
    crashing = LaunchSpec(
        command=(PY, "-c", "import sys; sys.exit(3)"), serve=True, restart_policy="always",
        backoff_initial_s=0.05, max_restarts=3,
    )  # fmt: skip
    await supervisor.start(REPLICA, "uid-1", crashing, [])
    await assert_eventually(
        lambda: any(e.kind == "exited" and e.outcome == "failed" for e in events.events), 20
    )
    exits = [e for e in events.events if e.kind == "exited"]
    # Every restarting exit says when the next try is: doubling each time.
    assert [e.detail for e in exits] == [
        "failed; restarting in 0.1 s",  # 0.05 s shown to one decimal
        "failed; restarting in 0.1 s",
        "failed; restarting in 0.2 s",
        "failed; giving up after 3 restarts",
    ]
    assert [e.outcome for e in exits] == ["restarting"] * 3 + ["failed"]
    assert "ready" not in events.kinds()
    restarted = [e for e in events.events if e.kind == "restarted"]
    # The port stays the replica's across its restarts (nothing else took it).
    assert [e.port for e in restarted] == [exits[0].port] * 3 and exits[0].port > 0


async def test_a_server_that_exits_with_0_is_restarted_too(
    supervisor: Supervisor, events: Recorder
) -> None:
    done = LaunchSpec(command=(PY, "-c", "pass"), serve=True, restart_policy="always",
                      backoff_initial_s=0.05, max_restarts=1)  # fmt: skip
    await supervisor.start(REPLICA, "uid-1", done, [])
    first = await events.wait_for("exited")
    assert (first.exit_code, first.outcome) == (0, "restarting")
    assert first.detail == "exited; restarting in 0.1 s"
    await events.wait_for("restarted")


async def test_the_stop_grace_is_honoured_then_sigkill(
    supervisor: Supervisor, events: Recorder, tmp_path: Path
) -> None:
    executor = Executor(SimulatedGpuBackend("H100", 1), supervisor=supervisor)
    start = types_pb2.StartWorkload(
        workload=REPLICA, uid="uid-1", launch=types_pb2.LaunchSpec(
            command=[PY, SERVER], env={"IGNORE_TERM": "1", "AIWO_REPLICA": "0"}, serve=True,
        ),
    )  # fmt: skip
    ack = await executor.execute(types_pb2.Command(id="c1", start_workload=start))
    assert ack.ok, ack.reason
    await events.wait_for("ready")  # its SIGTERM handler is installed by then
    began = time.monotonic()
    stop = types_pb2.StopWorkload(workload=REPLICA, grace_s=0.5)
    ack = await executor.execute(types_pb2.Command(id="c2", stop_workload=stop))
    took_s = time.monotonic() - began
    assert ack.ok, ack.reason
    exited = events.events[-1]
    assert (exited.kind, exited.signal, exited.outcome) == ("exited", "SIGKILL", "stopped")
    # Not the 10 s default: the command's grace (plus generous slack for a loaded machine).
    assert took_s < 8.0


async def test_a_replica_whose_port_was_taken_is_restarted_on_another(
    supervisor: Supervisor, events: Recorder
) -> None:
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    def take_port(event: ProcessEvent) -> None:
        # Between the exit and the restart, someone else binds the port.
        if event.kind == "exited" and event.outcome == "restarting":
            # SO_REUSEADDR: the probes' connections to it may linger in TIME_WAIT.
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("0.0.0.0", event.port))
            squatter.listen()
            events.hook = None

    try:
        await supervisor.start(REPLICA, "uid-1", replica(backoff_initial_s=0.2), [])
        first = await events.wait_for("ready")
        events.hook = take_port
        await supervisor.signal(REPLICA, signal.SIGKILL)
        restarted = await events.wait_for("restarted")
        assert restarted.port not in (0, first.port)
        again = await events.wait_for("ready", count=2)
        assert again.port == restarted.port
    finally:
        squatter.close()


async def test_a_restarted_replica_keeps_its_port_while_it_is_free(
    supervisor: Supervisor, events: Recorder
) -> None:
    await supervisor.start(REPLICA, "uid-1", replica(backoff_initial_s=0.1), [])
    first = await events.wait_for("ready")
    await supervisor.signal(REPLICA, signal.SIGKILL)
    unready = await events.wait_for("unready")
    assert unready.detail == "process exited"
    restarted = await events.wait_for("restarted")
    assert restarted.port == first.port
    await events.wait_for("ready", count=2)


async def test_two_replicas_get_different_ports(supervisor: Supervisor, events: Recorder) -> None:
    await supervisor.start("shop/chat-0", "u0", replica(), [])
    await supervisor.start("shop/chat-1", "u1", replica({"AIWO_REPLICA": "1"}), [])
    ready = [await events.wait_for("ready", count=n) for n in (1, 2)]
    assert {e.workload for e in ready} == {"shop/chat-0", "shop/chat-1"}
    assert ready[0].port != ready[1].port


async def test_the_agent_announces_ready_replicas_on_each_connect(
    tmp_path: Path, supervisor: Supervisor, prober: ReplicaProber, events: Recorder
) -> None:
    config = AgentConfig(node="n1", state_dir=str(tmp_path / "agent"))
    agent = Agent(config, SimulatedGpuBackend("H100", 1))
    agent.prober = prober
    await supervisor.start(REPLICA, "uid-1", replica(), [])
    await supervisor.start("shop/chat-1", "u1", replica(), [])
    ready = await events.wait_for("ready", count=2)
    agent._announce_ready_replicas()
    sent = [agent.outbox.get_nowait().process_event for _ in range(agent.outbox.qsize())]
    assert {(e.workload, e.kind, e.port) for e in sent} == {
        (REPLICA, "ready", supervisor.port(REPLICA)),
        ("shop/chat-1", "ready", supervisor.port("shop/chat-1")),
    }
    assert ready.port in {e.port for e in sent}


def test_replica_port_keeps_a_free_port_and_avoids_taken_ones() -> None:
    from nodeagent.ports import replica_port

    first = replica_port(0, set())
    assert first is not None and first > 0
    assert replica_port(first, set()) == first  # still free: kept
    assert replica_port(first, {first}) not in (None, first)  # another replica holds it
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", first))
        listener.listen()
        assert replica_port(first, set()) not in (None, first)  # someone else listens on it
