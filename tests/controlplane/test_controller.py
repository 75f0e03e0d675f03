"""The controller against a real etcd member, over real gRPC."""

from __future__ import annotations

import grpc
import pytest

from controlplane.app.server import Controller
from sdk import AdminClient
from sdk.pb.aiwo.v1 import admin_pb2, node_pb2, types_pb2, workload_pb2
from tests.controlplane.agentsim import ScriptedAgent, node_info
from tests.controlplane.conftest import Stubs
from tests.helpers import assert_eventually


def spec(
    gpus: int = 1, milli: int = 0, memory: int = 0, priority_class: str = ""
) -> types_pb2.WorkloadSpec:
    return types_pb2.WorkloadSpec(
        priority_class=priority_class,
        resources=types_pb2.Resources(gpus=gpus, milli_gpu=milli, gpu_memory_mib=memory),
    )


async def register(
    stubs: Stubs, name: str, namespace: str = "default", **kwargs: object
) -> types_pb2.Workload:
    return await stubs.workload.Register(
        workload_pb2.RegisterWorkloadRequest(name=name, namespace=namespace, spec=spec(**kwargs))  # type: ignore[arg-type]
    )


async def test_agent_registers_and_telemetry_is_visible(
    controller: Controller, stubs: Stubs
) -> None:
    async with ScriptedAgent(controller.address, node_info("node-a", gpus=4)):
        nodes = (await stubs.admin.ListNodes(admin_pb2.ListNodesRequest())).nodes
        assert [(n.name, n.state, n.gpu_count) for n in nodes] == [
            ("node-a", types_pb2.NODE_STATE_READY, 4)
        ]

        async def telemetry_seen() -> bool:
            gpus = (await stubs.admin.ListGpus(admin_pb2.ListGpusRequest())).gpus
            return len(gpus) == 4 and all(
                g.utilization_pct == 50.0 and g.power_w == 387.5 for g in gpus
            )

        await assert_eventually(telemetry_seen, message="GPU telemetry not visible")


async def test_node_record_is_written_on_change_not_per_heartbeat(
    controller: Controller, stubs: Stubs
) -> None:
    async with ScriptedAgent(controller.address, node_info("node-a", gpus=2)):
        key = controller.keys.node("node-a")
        first = await controller.store.get(key)
        assert first is not None

        def reported() -> bool:
            telemetry = controller.state.telemetry.get("node-a")
            return telemetry is not None and telemetry.count >= 5

        await assert_eventually(reported)
        again = await controller.store.get(key)
        assert again is not None and again.mod_revision == first.mod_revision


async def test_workload_is_placed_and_agent_gets_the_assignment(
    controller: Controller, stubs: Stubs
) -> None:
    async with ScriptedAgent(controller.address, node_info("node-a", gpus=2)) as agent:
        created = await register(stubs, "web", gpus=1, milli=500, memory=10_000)
        assert created.phase == types_pb2.WORKLOAD_PHASE_PENDING

        async def shown(phase: int) -> types_pb2.Workload | None:
            got = await stubs.workload.Get(
                workload_pb2.GetWorkloadRequest(name="web", namespace="default")
            )
            return got if got.phase == phase else None

        # The node has it (acked): stored as running, but until its own process attaches
        # (it runs itself: no launch spec) the controller cannot say it runs.
        await assert_eventually(
            lambda: (
                (w := controller.state.workloads.get("default/web")) is not None
                and w.phase == types_pb2.WORKLOAD_PHASE_RUNNING
            ),
            message="assignment not acked",
        )
        placed = await shown(types_pb2.WORKLOAD_PHASE_PLACED)
        assert (
            placed is not None and placed.message == "placed on node-a; its process is not attached"
        )
        app = stubs.workload.Attach()
        await app.write(
            workload_pb2.AppMessage(hello=workload_pb2.AttachHello(name="web", namespace="default"))
        )
        await app.read()  # its placement directive: the session is open
        workload = await assert_eventually(
            lambda: shown(types_pb2.WORKLOAD_PHASE_RUNNING), message="workload not running"
        )
        app.cancel()
        assert workload.node == "node-a" and len(workload.gpus) == 1 and workload.milli_gpu == 500
        assigns = agent.actions("assign_workload")
        assert assigns and assigns[0].assign_workload.workload == "default/web"
        assert assigns[0].epoch == controller.store.epoch > 0
        # Acked commands are removed from etcd.
        await assert_eventually(lambda: len(controller.state.commands) == 0)
        kinds = [
            e.kind for e in (await stubs.admin.ListEvents(admin_pb2.ListEventsRequest())).events
        ]
        assert "workload_placed" in kinds and "workload_registered" in kinds


async def test_work_registered_before_any_node_waits_and_is_placed_when_one_joins(
    controller: Controller, stubs: Stubs
) -> None:
    await register(stubs, "early", gpus=1, milli=1000, memory=1000)

    async def get() -> types_pb2.Workload:
        return await stubs.workload.Get(
            workload_pb2.GetWorkloadRequest(name="early", namespace="default")
        )

    async def judged() -> types_pb2.Workload | None:
        w = await get()
        return w if "0/0" in w.message else None

    waiting = await assert_eventually(judged, message="the placement pass never judged it")
    assert waiting.phase == types_pb2.WORKLOAD_PHASE_PENDING  # not UNSCHEDULABLE: none to judge
    async with ScriptedAgent(controller.address, node_info("node-a", gpus=1)):
        await assert_eventually(
            lambda: controller.state.placements.get("default/early") is not None
        )


async def test_workloads_are_listed_in_pages(controller: Controller, stubs: Stubs) -> None:
    names = [("team-a", f"w{i}") for i in range(4)] + [("team-b", f"w{i}") for i in range(3)]
    for namespace, name in names:
        await stubs.workload.Register(
            workload_pb2.RegisterWorkloadRequest(
                name=name, namespace=namespace, spec=types_pb2.WorkloadSpec(priority_class="batch")
            )
        )

    async def pages(namespace: str, size: int) -> list[list[str]]:
        got, token = [], ""
        while True:
            reply = await stubs.admin.ListWorkloads(
                admin_pb2.ListWorkloadsRequest(
                    namespace=namespace, page_size=size, page_token=token
                )
            )
            got.append([f"{w.namespace}/{w.name}" for w in reply.workloads])
            token = reply.next_page_token
            if not token:
                return got

    everything = sorted(f"{ns}/{n}" for ns, n in names)
    assert await pages("", 3) == [everything[:3], everything[3:6], everything[6:]]
    assert await pages("team-b", 2) == [["team-b/w0", "team-b/w1"], ["team-b/w2"]]
    assert await pages("", 0) == [everything]  # the default page holds them all
    # A page ends where the next begins, even if a workload is added meanwhile.
    first = await stubs.admin.ListWorkloads(admin_pb2.ListWorkloadsRequest(page_size=3))
    await stubs.workload.Register(
        workload_pb2.RegisterWorkloadRequest(name="a0", namespace="team-a")
    )
    rest = await stubs.admin.ListWorkloads(
        admin_pb2.ListWorkloadsRequest(page_size=10, page_token=first.next_page_token)
    )
    assert [w.name for w in rest.workloads][:1] == ["w3"]
    for bad, field in ((dict(page_size=-1), "page_size"), (dict(page_size=5001), "page_size"),
                       (dict(page_token="not a token"), "page_token")):  # fmt: skip
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stubs.admin.ListWorkloads(admin_pb2.ListWorkloadsRequest(**bad))  # type: ignore[arg-type]
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (info.value.details() or "").startswith(f"{field}:")
    admin = await AdminClient.connect(controller.address)
    try:
        listed = await admin.list_workloads(page_size=2)  # four round trips, one list
        assert [f"{w.namespace}/{w.name}" for w in listed] == sorted([*everything, "team-a/a0"])
    finally:
        await admin.close()


async def test_register_is_idempotent_and_conflicts_are_refused(
    controller: Controller, stubs: Stubs
) -> None:
    first = await register(stubs, "job", gpus=2)
    again = await register(stubs, "job", gpus=2)
    assert again.uid == first.uid
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await register(stubs, "job", gpus=4)
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize(
    ("name", "namespace", "resources", "field"),
    [
        ("Bad_Name", "default", types_pb2.Resources(gpus=1), "name"),
        ("x" * 64, "default", types_pb2.Resources(gpus=1), "name"),
        ("ok", "", types_pb2.Resources(gpus=1), "namespace"),
        ("ok", "default", types_pb2.Resources(gpus=-1), "spec.resources.gpus"),
        ("ok", "default", types_pb2.Resources(gpus=2, milli_gpu=500), "spec.resources.milli_gpu"),
        ("ok", "default", types_pb2.Resources(gpus=1, milli_gpu=1001), "spec.resources.milli_gpu"),
    ],
)
async def test_bad_input_is_invalid_argument_and_changes_nothing(
    controller: Controller,
    stubs: Stubs,
    name: str,
    namespace: str,
    resources: types_pb2.Resources,
    field: str,
) -> None:
    request = workload_pb2.RegisterWorkloadRequest(
        name=name, namespace=namespace, spec=types_pb2.WorkloadSpec(resources=resources)
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.workload.Register(request)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith(field + ":")
    _, stored = await controller.store.list_prefix(controller.keys.workloads)
    assert stored == []


async def test_unknown_priority_class_names_the_field(controller: Controller, stubs: Stubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await register(stubs, "web", priority_class="urgent")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "spec.priority_class" in info.value.details()


async def test_workload_that_can_never_fit_is_rejected(
    controller: Controller, stubs: Stubs
) -> None:
    async with ScriptedAgent(controller.address, node_info("node-a", gpus=8)):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await register(stubs, "huge", gpus=16)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "unschedulable" in info.value.details()


async def test_cordoned_node_gets_no_new_work(controller: Controller, stubs: Stubs) -> None:
    a = ScriptedAgent(controller.address, node_info("node-a", gpus=1))
    b = ScriptedAgent(controller.address, node_info("node-b", gpus=1))
    await a.start()
    await b.start()
    try:
        node = await stubs.admin.Cordon(
            admin_pb2.CordonRequest(name="node-a", reason="maintenance")
        )
        assert node.cordoned and node.reason == "maintenance"
        await register(stubs, "one", gpus=1)
        await register(stubs, "two", gpus=1)

        async def decided() -> list[types_pb2.Workload]:
            workloads = (
                await stubs.admin.ListWorkloads(admin_pb2.ListWorkloadsRequest())
            ).workloads
            placed = [w for w in workloads if w.node]
            waiting = [w for w in workloads if not w.node and w.message != "waiting for placement"]
            return list(workloads) if len(placed) == 1 and len(waiting) == 1 else []

        workloads = await assert_eventually(decided, message="placement not decided")
        nodes = {w.node for w in workloads if w.node}
        assert nodes == {"node-b"}
        pending = [w for w in workloads if not w.node]
        assert len(pending) == 1 and pending[0].phase == types_pb2.WORKLOAD_PHASE_PENDING
        assert "cordoned" in pending[0].message
    finally:
        await a.stop()
        await b.stop()


async def test_silent_node_goes_not_ready_and_back(controller: Controller, stubs: Stubs) -> None:
    async with ScriptedAgent(controller.address, node_info("node-a", gpus=1)) as agent:
        agent.silent = True

        async def state() -> int:
            return (await stubs.admin.GetNode(admin_pb2.GetNodeRequest(name="node-a"))).state

        await assert_eventually(lambda: _is(state, types_pb2.NODE_STATE_NOT_READY), timeout_s=10)
        agent.silent = False
        await assert_eventually(lambda: _is(state, types_pb2.NODE_STATE_READY), timeout_s=10)


async def _is(get, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return await get() == expected


async def test_describe_and_explain(controller: Controller, stubs: Stubs) -> None:
    async with ScriptedAgent(controller.address, node_info("node-a", gpus=2, memory_mib=16_000)):
        await register(stubs, "big-memory", gpus=1, memory=15_000)
        await assert_eventually(
            lambda: controller.state.placements.get("default/big-memory") is not None
        )
        described = await stubs.admin.Describe(
            admin_pb2.DescribeRequest(kind="workload", name="big-memory")
        )
        assert described.workload.node == "node-a" and described.gpus
        assert any(e.kind == "workload_placed" for e in described.events)
        await register(stubs, "too-much", gpus=2, memory=15_000)
        await register(stubs, "waits", gpus=1, memory=15_000)
        explanation = await stubs.admin.Explain(admin_pb2.ExplainRequest(name="waits"))
        assert explanation.nodes_total == 1
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stubs.admin.Describe(admin_pb2.DescribeRequest(kind="pod", name="x"))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_workloads_survive_a_controller_restart(
    controller: Controller,
    stubs: Stubs,
    make_controller,  # type: ignore[no-untyped-def]
) -> None:
    agent = ScriptedAgent(controller.address, node_info("node-a", gpus=2))
    await agent.start()
    await register(stubs, "keep", gpus=1)
    await assert_eventually(lambda: controller.state.placements.get("default/keep") is not None)
    await agent.stop()
    await controller.stop(0)
    second = await make_controller()
    try:
        await assert_eventually(lambda: second.store.epoch > 0, message="no leader")
        view = second.state.workload_view("default/keep")
        assert view is not None and view.node == "node-a"
    finally:
        await second.stop(0)


async def test_higher_priority_work_preempts_and_the_victim_is_requeued(
    controller_config,
    make_controller,  # type: ignore[no-untyped-def]
) -> None:
    ctl = await make_controller(preemption_min_runtime_s=0.0)
    async with ScriptedAgent(ctl.address, node_info("node-a", gpus=1)) as agent:
        async with grpc.aio.insecure_channel(ctl.address) as channel:
            stubs = Stubs(channel)
            await register(stubs, "train", gpus=1, priority_class="batch")
            await assert_eventually(lambda: ctl.state.placements.get("default/train") is not None)
            await register(stubs, "serve", gpus=1, priority_class="critical")

            async def swapped() -> bool:
                serve = ctl.state.placements.get("default/serve")
                train = ctl.state.workloads.get("default/train")
                return serve is not None and train is not None and not train.node

            await assert_eventually(swapped, message="no preemption")
            train = ctl.state.workloads.get("default/train")
            assert train is not None and train.phase == types_pb2.WORKLOAD_PHASE_PENDING
            events = ctl.state.events_for("workload/default/train", 20)
            preempted = [e for e in events if e.kind == "workload_preempted"]
            assert preempted and "preempted by default/serve" in preempted[0].message
            assert float(preempted[0].fields["gpu_seconds_lost"]) >= 0
            await assert_eventually(lambda: agent.actions("unassign_workload"))


async def test_a_decision_on_a_record_that_changed_meanwhile_writes_nothing(
    controller: Controller, stubs: Stubs
) -> None:
    """A pass that decided on a workload must not write it back after a Deregister."""
    from controlplane.leader.decisions import Batch, Conflict

    await register(stubs, "ghost", gpus=1)
    workload = controller.state.workloads.get("default/ghost")
    assert workload is not None
    stale = Batch()
    placed = types_pb2.Workload()
    placed.CopyFrom(workload)
    placed.phase = types_pb2.WORKLOAD_PHASE_PLACED
    controller.decisions.stage_workload(stale, "default/ghost", placed)
    await stubs.workload.Deregister(
        workload_pb2.DeregisterWorkloadRequest(name="ghost", namespace="default")
    )
    with pytest.raises(Conflict):
        await controller.decisions.commit(stale)
    assert await controller.store.get(controller.keys.workload("default/ghost")) is None
    assert controller.state.workloads.get("default/ghost") is None


async def test_a_controller_that_has_resigned_refuses_streams_before_accepting_them(
    controller: Controller, stubs: Stubs
) -> None:
    """The window in `stop()` between resigning and closing the server: an app or agent whose
    stream were accepted there would write what it queued into a stream about to end."""
    await assert_eventually(lambda: controller.store.epoch > 0, message="never led")
    await register(stubs, "web")
    await stubs.node.Register(node_pb2.RegisterNodeRequest(node=node_info("node-a", gpus=1)))
    for task in controller._tasks:  # as stop() does first: no campaign, no leadership
        task.cancel()
    await controller.elector.resign()
    app = stubs.workload.Attach()
    await app.write(
        workload_pb2.AppMessage(hello=workload_pb2.AttachHello(name="web", namespace="default"))
    )
    agent = stubs.node.Connect()
    await agent.write(node_pb2.AgentMessage(hello=node_pb2.AgentHello(node="node-a")))
    for call in (app, agent):
        # SDK and agent count a stream open only once its initial metadata says accepted.
        assert "aiwo-accepted" not in dict(await call.initial_metadata() or ())
        assert await call.code() == grpc.StatusCode.UNAVAILABLE
        # "no controller leads right now", or the leader it last knew (itself, until it
        # reads the key again): either way the caller retries.
        assert "lead" in await call.details()


async def test_the_leader_accepts_attach_in_its_initial_metadata(
    controller: Controller, stubs: Stubs
) -> None:
    await assert_eventually(lambda: controller.store.epoch > 0, message="never led")
    await register(stubs, "web")
    call = stubs.workload.Attach()
    await call.write(
        workload_pb2.AppMessage(hello=workload_pb2.AttachHello(name="web", namespace="default"))
    )
    assert dict(await call.initial_metadata() or ()).get("aiwo-accepted") == "1"
    call.cancel()
