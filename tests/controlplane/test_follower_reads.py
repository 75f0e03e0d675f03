"""Telemetry reads are right on every replica: agents stream to the leader alone, so a
follower forwards ListGpus, ListNodes, ListWorkloads, Describe, Explain and Get there."""

from __future__ import annotations

import time

import grpc

from sdk.pb.aiwo.v1 import admin_pb2, types_pb2, workload_pb2
from tests.controlplane.agentsim import ScriptedAgent, node_info
from tests.controlplane.conftest import Stubs
from tests.controlplane.test_ha import _pair
from tests.helpers import assert_eventually

BUSY_POWER_W = 75 + 6.25 * 80  # what the scripted agent reports at 80 % utilisation


async def test_a_follower_answers_telemetry_reads_with_the_leaders_live_data(
    make_controller,
) -> None:  # type: ignore[no-untyped-def]
    leader, follower = await _pair(make_controller)
    agent = ScriptedAgent(leader.address, node_info("node-a", gpus=2))
    agent.utilization_pct = 80.0
    await agent.start()
    try:
        async with grpc.aio.insecure_channel(follower.address) as channel:
            stubs = Stubs(channel)

            async def live_gpus() -> bool:
                gpus = (await stubs.admin.ListGpus(admin_pb2.ListGpusRequest())).gpus
                return len(gpus) == 2 and all(
                    g.power_w == BUSY_POWER_W and g.temperature_c == 55 for g in gpus
                )

            await assert_eventually(live_gpus, message="the follower's GPUs are not live")
            [node] = (await stubs.admin.ListNodes(admin_pb2.ListNodesRequest())).nodes
            assert time.time() - node.last_heartbeat_unix < 5

            await stubs.workload.Register(
                workload_pb2.RegisterWorkloadRequest(
                    name="web",
                    namespace="default",
                    spec=types_pb2.WorkloadSpec(resources=types_pb2.Resources(gpus=1)),
                )
            )

            async def energy_on_follower() -> bool:
                got = await stubs.workload.Get(
                    workload_pb2.GetWorkloadRequest(name="web", namespace="default")
                )
                listed = (
                    await stubs.admin.ListWorkloads(admin_pb2.ListWorkloadsRequest())
                ).workloads
                described = await stubs.admin.Describe(
                    admin_pb2.DescribeRequest(kind="workload", name="web", namespace="default")
                )
                return (
                    got.energy_j > 0 and listed[0].energy_j > 0 and described.workload.energy_j > 0
                )

            await assert_eventually(energy_on_follower, message="no energy on the follower")

            # Errors from the leader come back unchanged.
            try:
                await stubs.workload.Get(
                    workload_pb2.GetWorkloadRequest(name="nosuch", namespace="default")
                )
                raise AssertionError("found a workload that does not exist")
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.NOT_FOUND

            # The leader gone: the follower still answers from its own view (no error).
            await agent.stop()
            await leader.stop(0)
            reply = await stubs.admin.ListGpus(admin_pb2.ListGpusRequest(), timeout=15)
            assert [g.index for g in reply.gpus] == [0, 1]
    finally:
        await agent.stop()
