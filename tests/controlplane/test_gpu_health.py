"""GPU health in the controller, with a scripted agent over a real stream, real etcd.

The rules themselves are table-tested in test_health_rules.py; the whole path with real
agent processes is tests/e2e/test_gpu_health.py. Here: the condition is written once (not per
report), survives a new leader and a re-registration, and work that cannot migrate is
requeued onto a healthy GPU.
"""

from __future__ import annotations

import grpc

from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import node_pb2, types_pb2, workload_pb2, workload_pb2_grpc
from tests.controlplane.agentsim import ScriptedAgent, node_info
from tests.helpers import assert_eventually


class FaultyAgent(ScriptedAgent):
    """Reports the uncorrected-ECC counters the test sets."""

    def __init__(self, address: str, name: str) -> None:
        super().__init__(address, node_info(name, gpus=2))
        self.ecc: dict[int, int] = {}

    def telemetry(self, utilization_pct: float = 50.0) -> node_pb2.TelemetryReport:
        report = super().telemetry(utilization_pct)
        for sample in report.gpus:
            sample.ecc_uncorrected = self.ecc.get(sample.index, 0)
        return report


def reports(ctl: Controller, node: str) -> int:
    series = ctl.state.telemetry.get(node)
    return 0 if series is None else series.count


async def test_rising_ecc_marks_once_requeues_and_survives_a_new_leader(make_controller) -> None:  # type: ignore[no-untyped-def]
    ctl: Controller = await make_controller()
    agent = FaultyAgent(ctl.address, "n1")
    await agent.start()
    try:
        await assert_eventually(lambda: reports(ctl, "n1") > 2, message="telemetry")
        spec = types_pb2.WorkloadSpec(resources=types_pb2.Resources(gpus=1))
        await ctl_register(ctl, "w", spec)
        placement = await assert_eventually(lambda: ctl.state.placements.get("default/w"))
        [gpu] = placement.gpus

        changes: list[str] = []
        ctl.state.nodes.subscribe(lambda name, node: changes.append(name))
        agent.ecc[gpu] = 1  # the counter rises: unhealthy
        node = await assert_eventually(
            lambda: (n := ctl.state.nodes.get("n1")) and gpu in n.unhealthy_gpus and n
        )
        assert node.unhealthy_gpus[gpu] == "uncorrected ECC errors: 0 -> 1"
        kinds = [e.kind for e in ctl.state.events.values() if e.object == "node/n1"]
        assert "gpu_unhealthy" in kinds

        # No other node to migrate to: requeued, and placed again on the healthy GPU.
        moved = await assert_eventually(
            lambda: (p := ctl.state.placements.get("default/w")) and p.gpus[0] != gpu and p
        )
        assert moved.node == "n1"
        requeued = [e for e in ctl.state.events.values() if e.kind == "workload_requeued"]
        assert requeued and "cannot migrate" in requeued[0].message

        # Written once: ten more reports with the condition still there change no record.
        written = changes.count("n1")
        seen = reports(ctl, "n1")
        await assert_eventually(lambda: reports(ctl, "n1") >= seen + 10, timeout_s=20)
        assert changes.count("n1") == written
    finally:
        await agent.stop()
    await ctl.stop(0)

    # A new leader, and the agent registering again with the same GPUs: still unhealthy.
    successor: Controller = await make_controller()
    await assert_eventually(lambda: successor.store.epoch > 0, timeout_s=10)
    again = FaultyAgent(successor.address, "n1")
    await again.start()
    try:
        await assert_eventually(lambda: reports(successor, "n1") > 2)
        again_node = successor.state.nodes.get("n1")
        assert again_node is not None and gpu in again_node.unhealthy_gpus
        [view] = [g for g in successor.state.gpu_views("n1") if g.index == gpu]
        assert view.unhealthy and view.health_reason.startswith("uncorrected ECC")
    finally:
        await again.stop()


async def ctl_register(ctl: Controller, name: str, spec: types_pb2.WorkloadSpec) -> None:
    async with grpc.aio.insecure_channel(ctl.address) as channel:
        stub = workload_pb2_grpc.WorkloadServiceStub(channel)
        await stub.Register(
            workload_pb2.RegisterWorkloadRequest(name=name, namespace="default", spec=spec)
        )
