"""A command is executed at most once on its node, even across an agent restart.

The agent runs the command, journals the outcome, and dies before its ack reaches the
controller. The command is still in etcd, so the restarted agent gets it again: it must
re-ack the remembered outcome, not run it a second time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc

from controlplane.app.server import Controller
from controlplane.leader.decisions import Batch
from nodeagent.agent import Agent
from nodeagent.config import AgentConfig
from nodeagent.executor import Executor
from nodeagent.gpu import make_backend
from sdk.pb.aiwo.v1 import node_pb2, node_pb2_grpc, types_pb2
from tests.controlplane.agentsim import node_info
from tests.helpers import assert_eventually, running

NODE = "node-j"


class CountingExecutor(Executor):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.runs: Counter[str] = Counter()

    async def execute(self, command: types_pb2.Command) -> types_pb2.CommandAck:
        self.runs[command.id] += 1
        return await super().execute(command)


class AckSwallowingQueue(asyncio.Queue[node_pb2.AgentMessage]):
    """The outbox of an agent that dies right after journaling: its acks never leave."""

    async def put(self, item: node_pb2.AgentMessage) -> None:
        if item.WhichOneof("body") != "ack":
            await super().put(item)


def _agent(address: str, state_dir: Path) -> tuple[Agent, Counter[str]]:
    config = AgentConfig(
        controller=address, node=NODE, backend="sim", sim_gpus=2, state_dir=str(state_dir),
        backoff_initial_s=0.05,
    ).resolved()  # fmt: skip
    backend = make_backend("sim", model="H100", count=2, node_name=NODE)
    executor = CountingExecutor(backend)
    return Agent(config, backend, executor=executor), executor.runs


async def test_a_redelivered_command_is_acked_not_rerun_after_a_restart(
    controller: Controller, tmp_path: Path
) -> None:
    first, first_runs = _agent(controller.address, tmp_path)
    first.outbox = AckSwallowingQueue(4096)
    async with running(first.run):
        await asyncio.wait_for(first.connected.wait(), 10)
        await assert_eventually(lambda: controller.state.nodes.get(NODE) is not None)
        batch = Batch()
        set_limit = types_pb2.SetPowerLimit(gpu_index=0, watts=300)
        controller.decisions.stage_command(batch, NODE, time.time(), set_power_limit=set_limit)
        await controller.decisions.commit(batch)
        [(_, command)] = batch.commands
        await assert_eventually(lambda: first_runs[command.id] == 1, message="first run")
        await assert_eventually(lambda: command.id in first.journal._outcomes)
    # Stopped: the ack never left, so the command is still pending.
    assert controller.state.commands.get(f"{NODE}/{command.id}") is not None

    second, second_runs = _agent(controller.address, tmp_path)  # same state dir
    async with running(second.run):
        await asyncio.wait_for(second.connected.wait(), 10)
        # Redelivered on connect; acked from the journal, so the controller drops it.
        await assert_eventually(
            lambda: controller.state.commands.get(f"{NODE}/{command.id}") is None,
            message="the redelivered command acked",
        )
        assert second_runs[command.id] == 0, "the restarted agent ran the command again"


async def test_a_command_whose_node_is_gone_or_silent_fails_with_a_reason(
    make_controller: Callable[..., Awaitable[Controller]],
) -> None:
    ctl = await make_controller(command_timeout_s=0.5)
    async with grpc.aio.insecure_channel(ctl.address) as channel:
        # Registered, but no stream: it goes NotReady after the grace (2 s here).
        await node_pb2_grpc.NodeServiceStub(channel).Register(
            node_pb2.RegisterNodeRequest(node=node_info("node-s", gpus=1))
        )
    batch = Batch()
    now = time.time()
    reset = types_pb2.ResetClocks(gpu_index=0)
    ctl.decisions.stage_command(batch, "node-s", now, reset_clocks=reset)
    ctl.decisions.stage_command(batch, "node-gone", now, reset_clocks=reset)  # no such node
    await ctl.decisions.commit(batch)
    ids = {node: command.id for node, command in batch.commands}

    def failed_events() -> dict[str, str]:
        return {
            e.fields["command_id"]: e.message
            for _, e in ctl.state.events.items()
            if e.kind == "command_failed"
        }

    await assert_eventually(lambda: len(failed_events()) == 2, timeout_s=15)
    reasons = failed_events()
    assert reasons[ids["node-gone"]].endswith("node is gone")
    assert reasons[ids["node-s"]].endswith("node not ready past the deadline")
    # No longer pending: failed, with the reason logged. The event is emitted before the
    # command's delete reaches the cache (it comes back through the watch): poll for it.
    await assert_eventually(lambda: len(ctl.state.commands) == 0, message="commands deleted")
