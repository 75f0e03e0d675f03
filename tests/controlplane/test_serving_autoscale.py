"""The leader's autoscale pass on a real controller: gateway traffic in, desired replicas and
an event with the decision's reason out; scale from zero on a held request."""

from __future__ import annotations

import grpc

from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import admin_pb2, admin_pb2_grpc, serving_pb2, serving_pb2_grpc
from tests.controlplane.agentsim import ScriptedAgent, node_info
from tests.controlplane.test_serving import create, service_spec
from tests.controlplane.test_serving_replicas import Reporter, starts
from tests.helpers import assert_eventually


async def test_a_held_request_scales_from_zero_with_its_reason(controller: Controller) -> None:
    agent = ScriptedAgent(controller.address, node_info("node-a", gpus=4))
    await agent.start()
    async with grpc.aio.insecure_channel(controller.address) as channel:
        serving = serving_pb2_grpc.ServingServiceStub(channel)
        reporter: Reporter | None = None
        try:
            await serving.CreateService(create("chat", service_spec(0, 4, ttft_ms=2000)))
            got = await serving.GetService(
                serving_pb2.GetServiceRequest(name="chat", namespace="default")
            )
            assert got.desired == 0 and list(got.replicas) == []
            # The gateway holds requests for it: the controller hears of it at once.
            reporter = Reporter(channel)
            reporter.arrivals, reporter.queued = 2, 2

            def scaled() -> serving_pb2.Service | None:
                service = controller.state.services.get("default/chat")
                return service if service is not None and service.desired >= 1 else None

            service = await assert_eventually(scaled)
            assert service.last_scale.from_replicas == 0
            assert service.last_scale.to_replicas == service.desired
            assert service.last_scale.reason
            events = [
                e
                for e in controller.state.events_for("service/default/chat", 50)
                if e.kind == "service_scaled"
            ]
            # The counts are said once, from the record's own from/to; the reason explains.
            last = service.last_scale
            assert events and events[-1].message == (
                f"scale default/chat 0 -> {last.to_replicas}: {last.reason}"
            )
            assert "default/chat" not in last.reason and "->" not in last.reason
            assert events[-1].fields["from_replicas"] == "0"
            assert events[-1].fields["to_replicas"] == str(last.to_replicas)
            # The new replica is placed and started like any managed workload.
            await assert_eventually(lambda: "default/chat-0" in starts(agent))

            explained = await admin_pb2_grpc.AdminServiceStub(channel).Explain(
                admin_pb2.ExplainRequest(name="chat", namespace="default")
            )
            assert "last scale 0 -> " in explained.summary
            # And why it has that count now, from the autoscaler's latest pass (a hold too).
            now = explained.summary.split("; now: ", 1)[1]
            assert now.startswith("desired ") and now.split(": ", 1)[0][8:].isdigit(), now
        finally:
            if reporter is not None:
                await reporter.close()
            await agent.stop()


async def test_a_replica_with_no_room_preempts_batch_work_once(make_controller) -> None:  # type: ignore[no-untyped-def]
    from sdk.pb.aiwo.v1 import types_pb2, workload_pb2, workload_pb2_grpc

    controller = await make_controller(preemption_min_runtime_s=0.0)
    async with ScriptedAgent(controller.address, node_info("node-a", gpus=2)) as agent:
        async with grpc.aio.insecure_channel(controller.address) as channel:
            workloads = workload_pb2_grpc.WorkloadServiceStub(channel)
            await workloads.Register(
                workload_pb2.RegisterWorkloadRequest(
                    name="train",
                    namespace="default",
                    spec=types_pb2.WorkloadSpec(
                        priority_class="batch", resources=types_pb2.Resources(gpus=2)
                    ),
                )
            )
            await assert_eventually(lambda: controller.state.placements.get("default/train"))
            serving = serving_pb2_grpc.ServingServiceStub(channel)
            await serving.CreateService(create("chat", service_spec(1, 2)))
            # The GPUs are the batch job's: the replica's placement preempts it.
            await assert_eventually(lambda: "default/chat-0" in starts(agent))
            placed = controller.state.placements.get("default/chat-0")
            assert placed is not None and placed.node == "node-a"
            events = controller.state.events_for("workload/default/train", 50)
            preempted = [e for e in events if e.kind == "workload_preempted"]
            assert len(preempted) == 1 and "default/chat-0" in preempted[0].message
            explained = await admin_pb2_grpc.AdminServiceStub(channel).Explain(
                admin_pb2.ExplainRequest(name="chat", namespace="default")
            )
            assert explained.summary.startswith("service default/chat has 1 replica")


async def test_the_scale_event_says_the_counts_the_record_moved_between(
    controller: Controller,
) -> None:
    """The event's opening is built from the committed record's from/to, never taken from
    the planner's text: a reason that looks like an opening is just a reason."""
    from controlplane.leader.autoscaler import Decision

    said = "scale default/chat 7 -> 9: a planner's own opening"
    controller.autoscaler.planner = lambda _state, services, _now: [
        Decision(key, 2, said) for key, _ in services
    ]
    async with grpc.aio.insecure_channel(controller.address) as channel:
        serving = serving_pb2_grpc.ServingServiceStub(channel)
        await serving.CreateService(create("chat", service_spec(0, 4, ttft_ms=2000)))

        def scaled() -> list[str]:
            return [
                e.message
                for e in controller.state.events_for("service/default/chat", 50)
                if e.kind == "service_scaled"
            ]

        [message] = await assert_eventually(scaled)
    assert message == f"scale default/chat 0 -> 2: {said}"
    service = controller.state.services.get("default/chat")
    assert service is not None and service.last_scale.reason == said
    assert (service.last_scale.from_replicas, service.last_scale.to_replicas) == (0, 2)
