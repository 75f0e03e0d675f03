"""Two controller replicas on one etcd: one leads, the other serves reads and forwards writes."""

from __future__ import annotations

import time

import grpc
import pytest

from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import admin_pb2, node_pb2, types_pb2, workload_pb2, workload_pb2_grpc
from tests.controlplane.agentsim import ScriptedAgent, node_info
from tests.controlplane.conftest import Stubs
from tests.helpers import assert_eventually, running


async def _pair(make_controller) -> tuple[Controller, Controller]:  # type: ignore[no-untyped-def]
    first = await make_controller(controller_id="c1")
    second = await make_controller(controller_id="c2")
    await assert_eventually(lambda: first.store.epoch > 0 or second.store.epoch > 0)
    leader, follower = (first, second) if first.store.epoch > 0 else (second, first)
    await assert_eventually(lambda: follower.leadership.leader_address == leader.address)
    return leader, follower


async def test_follower_forwards_writes_and_serves_reads(make_controller) -> None:  # type: ignore[no-untyped-def]
    leader, follower = await _pair(make_controller)
    async with ScriptedAgent(leader.address, node_info("node-a", gpus=2)):
        async with grpc.aio.insecure_channel(follower.address) as channel:
            stubs = Stubs(channel)
            created = await stubs.workload.Register(
                workload_pb2.RegisterWorkloadRequest(
                    name="web",
                    namespace="default",
                    spec=types_pb2.WorkloadSpec(resources=types_pb2.Resources(gpus=1)),
                )
            )
            assert created.uid
            # Errors come back unchanged through the proxy.
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stubs.workload.Register(workload_pb2.RegisterWorkloadRequest(name="BAD"))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert info.value.details().startswith("name:")

            # The follower's own cache catches up through its watch.
            async def placed_on_follower() -> bool:
                workloads = (
                    await stubs.admin.ListWorkloads(admin_pb2.ListWorkloadsRequest())
                ).workloads
                return len(workloads) == 1 and workloads[0].node == "node-a"

            await assert_eventually(placed_on_follower)

            # The application stream works through the follower too.
            call = workload_pb2_grpc.WorkloadServiceStub(channel).Attach()
            await call.write(
                workload_pb2.AppMessage(
                    hello=workload_pb2.AttachHello(name="web", namespace="default")
                )
            )
            directive = await call.read()
            assert (
                directive.kind == types_pb2.DIRECTIVE_KIND_PLACEMENT and directive.node == "node-a"
            )
            call.cancel()

            # Agents are told where the leader is, in the message and as metadata.
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stubs.node.Register(node_pb2.RegisterNodeRequest(node=node_info("node-b")))
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert leader.address in refused.value.details()
            trailing = dict(refused.value.trailing_metadata() or ())
            assert trailing.get("aiwo-leader") == leader.address


async def test_follower_takes_over_when_the_leader_steps_down(make_controller) -> None:  # type: ignore[no-untyped-def]
    leader, follower = await _pair(make_controller)
    old_epoch = leader.store.epoch
    started = time.monotonic()
    await leader.stop(0)
    await assert_eventually(lambda: follower.store.epoch > 0, timeout_s=10)
    assert follower.store.epoch > old_epoch
    assert time.monotonic() - started < 5
    assert follower.leadership.leader_address == follower.address


async def test_a_deposed_leader_cannot_write(make_controller) -> None:  # type: ignore[no-untyped-def]
    from controlplane.etcd.store import FencingError, Write

    leader, follower = await _pair(make_controller)
    epoch = leader.store.epoch
    # Someone else takes the leader key (as after our lease expired while we were paused).
    await leader.store.client.delete(leader.keys.leader.encode())
    await assert_eventually(lambda: follower.store.epoch > 0, timeout_s=10)
    leader.store.epoch = epoch  # the paused process still believes it leads
    with pytest.raises(FencingError):
        await leader.store.commit([Write(leader.keys.node("ghost"), b"x")])
    assert await leader.store.get(leader.keys.node("ghost")) is None


async def test_agent_given_every_replica_finds_the_leader(make_controller, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from nodeagent.agent import Agent
    from nodeagent.config import AgentConfig
    from nodeagent.gpu import make_backend

    leader, follower = await _pair(make_controller)
    config = AgentConfig(
        controller=f"{follower.address},{leader.address}",
        node="node-z",
        backend="sim",
        sim_gpus=2,
        state_dir=str(tmp_path),
        backoff_initial_s=0.05,
    ).resolved()
    agent = Agent(config, make_backend("sim", model="H100", count=2, node_name="node-z"))
    async with running(agent.run):
        await asyncio.wait_for(agent.connected.wait(), 10)
        assert agent.target == leader.address
        await assert_eventually(lambda: leader.state.nodes.get("node-z") is not None)


async def test_a_follower_that_does_not_know_the_leader_asks_etcd(make_controller) -> None:  # type: ignore[no-untyped-def]
    leader, follower = await _pair(make_controller)
    follower.leadership.leader_address = ""  # as right after a start or a leader change
    async with grpc.aio.insecure_channel(follower.address) as channel:
        created = await Stubs(channel).workload.Register(
            workload_pb2.RegisterWorkloadRequest(
                name="asks", namespace="default", spec=types_pb2.WorkloadSpec()
            )
        )
    assert created.uid and leader.state.workloads.get("default/asks") is not None
    assert follower.leadership.leader_address == leader.address
