"""The runtime loop in the controller: energy caps, the SLO guard, stale metrics, energy."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from controlplane.app.config import ControllerConfig
from controlplane.app.server import Controller
from controlplane.leader.runtime_loop import GpuInventory, build_runtime_snapshot
from nodeagent.agent import Agent
from nodeagent.clock_locks import ClockLocks
from nodeagent.config import AgentConfig
from nodeagent.executor import Executor
from nodeagent.gpu import make_backend
from sdk.pb.aiwo.v1 import admin_pb2, types_pb2, workload_pb2, workload_pb2_grpc
from tests.controlplane.agentsim import ScriptedAgent, node_info
from tests.controlplane.conftest import Stubs
from tests.helpers import assert_eventually, running


@pytest.fixture
def controller_config(controller_config: ControllerConfig) -> ControllerConfig:
    return replace(controller_config, runtime_interval_s=0.2)


async def _register(stubs: Stubs, name: str, p99_ms: float, priority: str, milli: int) -> None:
    await stubs.workload.Register(
        workload_pb2.RegisterWorkloadRequest(
            name=name,
            namespace="default",
            spec=types_pb2.WorkloadSpec(
                priority_class=priority,
                slo=types_pb2.SloHints(p99_latency_ms=p99_ms),
                resources=types_pb2.Resources(gpus=1, milli_gpu=milli),
            ),
        )
    )


async def test_idle_gpus_go_to_their_minimum_power_limit(controller: Controller) -> None:
    agent = ScriptedAgent(controller.address, node_info("node-a", gpus=2))
    agent.utilization_pct = 0.0
    await agent.start()
    try:
        await assert_eventually(
            lambda: (
                {
                    c.set_power_limit.gpu_index
                    for c in agent.actions("set_power_limit")
                    if c.set_power_limit.watts == 200
                }
                == {0, 1}
            ),
            message="idle GPUs not capped to their 200 W minimum",
        )
        events = controller.state.events_for("node/node-a", 50)
        assert any(e.fields.get("node") == "node-a" or "200" in e.message for e in events)
    finally:
        await agent.stop()


async def test_a_node_without_gpu_control_gets_no_power_commands(controller: Controller) -> None:
    # node-b reports no power-limit/clock-lock capability (an agent run with --no-gpu-control).
    # Its idle GPU is in the loop's view before node-a arrives, so the pass that caps node-a's
    # idle GPU has seen node-b's too.
    fixed = node_info("node-b", gpus=1)
    del fixed.capabilities[:]
    fixed.capabilities.append("throttle:signals")
    observer = ScriptedAgent(controller.address, fixed)
    capable = ScriptedAgent(controller.address, node_info("node-a", gpus=1))
    observer.utilization_pct = capable.utilization_pct = 0.0
    await observer.start()
    try:
        await assert_eventually(
            lambda: [
                g for g in build_runtime_snapshot(controller.state, (), time.time()).gpus
                if g.node == "node-b" and not g.settable
            ]
        )  # fmt: skip
        await capable.start()
        await assert_eventually(lambda: capable.actions("set_power_limit"))
        for action in ("set_power_limit", "reset_power_limit", "lock_clocks", "reset_clocks"):
            assert observer.actions(action) == []
    finally:
        await capable.stop()
        await observer.stop()


async def test_the_kept_inventory_follows_a_changed_node_record(controller: Controller) -> None:
    # The loop reads a node's GPU limits and capabilities once per record: a record written
    # again (the agent restarted with --no-gpu-control and another power range) is read again.
    inventory = GpuInventory(controller.state)

    def node_a(settable: bool, max_w: float) -> list[tuple[bool, float]]:
        gpus = build_runtime_snapshot(controller.state, (), time.time(), inventory).gpus
        found = [(g.settable, g.power_limit_max_w) for g in gpus if g.node == "node-a"]
        return found if found == [(settable, max_w)] else []

    async with ScriptedAgent(controller.address, node_info("node-a", gpus=1)):
        await assert_eventually(lambda: node_a(True, 700.0))
    fixed = node_info("node-a", gpus=1)
    del fixed.capabilities[:]
    fixed.gpus[0].power_limit_max_w = 600
    async with ScriptedAgent(controller.address, fixed):
        await assert_eventually(lambda: node_a(False, 600.0), message="old inventory kept")


async def test_a_throttle_left_by_a_previous_leader_is_undone(
    controller: Controller, stubs: Stubs
) -> None:
    # The node reports a process throttle this leader never set (its predecessor did).
    agent = ScriptedAgent(controller.address, node_info("node-a", gpus=1))
    agent.throttles = {"default/train": 0.25}
    await agent.start()
    try:
        await _register(stubs, "train", p99_ms=0, priority="batch", milli=500)

        def undone() -> list[types_pb2.Command]:
            return [
                c
                for c in agent.actions("throttle_workload")
                if c.throttle_workload.workload == "default/train"
                and c.throttle_workload.cpu_fraction >= 1.0
            ]

        await assert_eventually(undone, timeout_s=20, message="the throttle was not undone")
        events = controller.state.events_for("workload/default/train", 50)
        assert any("by no relief of this controller" in e.message for e in events)
    finally:
        await agent.stop()


async def test_a_clock_lock_left_by_a_previous_leader_is_undone(controller: Controller) -> None:
    # The agent reports a lock it holds that this leader never set (NVML cannot read locks
    # back; the agent remembers its own). Nothing here wants a lock: it is reset.
    agent = ScriptedAgent(controller.address, node_info("node-a", gpus=2))
    agent.clock_locks = {1: (210, 1200)}
    await agent.start()
    try:
        await assert_eventually(
            lambda: [c for c in agent.actions("reset_clocks") if c.reset_clocks.gpu_index == 1],
            timeout_s=20,
            message="the clock lock was not undone",
        )
        assert not [c for c in agent.actions("reset_clocks") if c.reset_clocks.gpu_index == 0]
        [gpu] = [
            g
            for g in build_runtime_snapshot(controller.state, (), time.time()).gpus
            if g.index == 1
        ]
        assert gpu.clock_lock_mhz == (210, 1200)  # as reported (the scripted agent keeps it)
    finally:
        await agent.stop()


async def test_a_real_agent_reports_the_lock_it_kept_across_its_restart_and_it_is_reset(
    controller: Controller, tmp_path: Path
) -> None:
    # The agent's previous life locked GPU 0's clocks (the file it keeps says so); this one
    # reports the lock, the leader (which never set it) resets it, the file forgets it.
    (tmp_path / "clock-locks.json").write_text('{"0": [900, 1200]}')
    config = AgentConfig(
        controller=controller.address, node="node-r", backend="sim", sim_gpus=2,
        state_dir=str(tmp_path), telemetry_interval_s=0.2,
    ).resolved()  # fmt: skip
    backend = make_backend("sim", model="H100", count=2, node_name="node-r")
    executor = Executor(backend, clock_locks=ClockLocks(tmp_path / "clock-locks.json"))
    agent = Agent(config, backend, executor=executor)
    async with running(agent.run):
        await assert_eventually(
            lambda: ClockLocks(tmp_path / "clock-locks.json").items() == [],
            timeout_s=20,
            message="the lock left by the agent's previous life was not reset",
        )
        events = controller.state.events_for("node/node-r", 50)
        released = "node-r/0: SM clock lock 900-1200 MHz set by no decision of this controller"
        assert any(e.message.startswith(released) for e in events), [e.message for e in events]


async def test_slo_breach_throttles_the_lower_priority_neighbour(
    controller: Controller, stubs: Stubs
) -> None:
    async with ScriptedAgent(controller.address, node_info("node-a", gpus=1)):
        await _register(stubs, "chat", p99_ms=100, priority="high", milli=500)
        await _register(stubs, "train", p99_ms=0, priority="batch", milli=500)
        await assert_eventually(lambda: len(controller.state.placements) == 2)
        apps = workload_pb2_grpc.WorkloadServiceStub(stubs.channel)
        chat = apps.Attach()
        await chat.write(
            workload_pb2.AppMessage(
                hello=workload_pb2.AttachHello(name="chat", namespace="default")
            )
        )
        train = apps.Attach()
        await train.write(
            workload_pb2.AppMessage(
                hello=workload_pb2.AttachHello(name="train", namespace="default")
            )
        )
        assert (await train.read()).kind == types_pb2.DIRECTIVE_KIND_PLACEMENT
        for _ in range(5):
            await chat.write(
                workload_pb2.AppMessage(
                    metrics=workload_pb2.MetricsReport(latency_ms=[180.0] * 200)
                )
            )
        directive = await train.read()
        assert directive.kind == types_pb2.DIRECTIVE_KIND_THROTTLE
        assert 0 < directive.factor < 1 and directive.reason
        view = await stubs.workload.Get(
            workload_pb2.GetWorkloadRequest(name="chat", namespace="default")
        )
        assert view.slo_status == "breach" and view.p99_latency_ms == pytest.approx(180.0)
        chat.cancel()
        train.cancel()


async def test_stale_metrics_are_unknown_not_met_or_broken(
    controller: Controller, stubs: Stubs
) -> None:
    async with ScriptedAgent(controller.address, node_info("node-a", gpus=1)) as agent:
        await _register(stubs, "quiet", p99_ms=100, priority="high", milli=500)

        async def unknown() -> bool:
            d = await stubs.admin.Describe(admin_pb2.DescribeRequest(kind="workload", name="quiet"))
            return d.workload.slo_status.startswith("unknown")

        await assert_eventually(unknown, message="stale SLO not reported as unknown")
        assert not agent.actions("throttle_workload")


async def test_energy_is_attributed_to_placed_work(controller: Controller, stubs: Stubs) -> None:
    async with ScriptedAgent(controller.address, node_info("node-a", gpus=1)):
        await _register(stubs, "train", p99_ms=0, priority="batch", milli=1000)

        async def energy() -> float:
            w = await stubs.workload.Get(
                workload_pb2.GetWorkloadRequest(name="train", namespace="default")
            )
            return w.energy_j

        joules = await assert_eventually(energy, message="no energy attributed")
        assert joules > 0


async def test_bad_metrics_are_invalid_argument_and_leave_the_slo_state_alone(
    controller: Controller, stubs: Stubs
) -> None:
    async with ScriptedAgent(controller.address, node_info("node-a", gpus=1)):
        await _register(stubs, "chat", p99_ms=100, priority="high", milli=500)
        call = workload_pb2_grpc.WorkloadServiceStub(stubs.channel).Attach()
        await call.write(
            workload_pb2.AppMessage(
                hello=workload_pb2.AttachHello(name="chat", namespace="default")
            )
        )
        await call.write(
            workload_pb2.AppMessage(metrics=workload_pb2.MetricsReport(latency_ms=[50.0] * 10))
        )
        await call.write(
            workload_pb2.AppMessage(
                metrics=workload_pb2.MetricsReport(latency_ms=[float("nan"), -3.0])
            )
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            while True:
                await call.read()
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "metrics.latency_ms[0]" in info.value.details()
        status = controller.state.slo.status("default/chat", __import__("time").time())
        assert status is not None and status.p99_latency_ms == pytest.approx(50.0)


def test_the_runtime_pass_takes_at_most_its_duty_of_the_loop() -> None:
    from controlplane.leader.runtime_loop import RUNTIME_MAX_DUTY, pause_s

    assert pause_s(2.0, 0.01) == 2.0  # a quick pass keeps the configured period
    slow_s = 1.0  # a pass over a large fleet: the period stretches
    assert slow_s / (slow_s + pause_s(2.0, slow_s)) <= RUNTIME_MAX_DUTY + 1e-9
