"""Returning GPUs to service, and whole-node faults, on a real controller and etcd with a
scripted agent over a real stream:

- a node whose every GPU is unhealthy is cordoned (event with the reason), so no new work
  lands there, CPU-only work included;
- `Uncordon` with clear_unhealthy_gpus / clear_all_unhealthy clears the marks (an event per
  GPU), the GPU takes work again, and the old ECC count does not mark it again;
- bad requests are INVALID_ARGUMENT naming the field, with the record unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import admin_pb2, admin_pb2_grpc, types_pb2
from tests.controlplane.test_gpu_health import FaultyAgent, ctl_register, reports
from tests.helpers import assert_eventually


@pytest.fixture
async def agent(controller: Controller) -> AsyncIterator[FaultyAgent]:
    """Node n1, two GPUs, reporting to `controller` (its telemetry arrived)."""
    faulty = FaultyAgent(controller.address, "n1")
    await faulty.start()
    try:
        await assert_eventually(lambda: reports(controller, "n1") > 2, message="telemetry")
        yield faulty
    finally:
        await faulty.stop()


def _events(ctl: Controller, kind: str) -> list[types_pb2.Event]:
    return [e for e in ctl.state.events_for("node/n1", 100) if e.kind == kind]


def _node(ctl: Controller) -> types_pb2.Node:
    node = ctl.state.nodes.get("n1")
    assert node is not None
    return node


async def test_a_node_with_every_gpu_unhealthy_is_cordoned_and_cleared_after_repair(
    controller: Controller, agent: FaultyAgent
) -> None:
    ctl = controller
    agent.ecc[0] = 2
    await assert_eventually(lambda: 0 in _node(ctl).unhealthy_gpus)
    assert not _node(ctl).cordoned  # GPU 1 is fine: the node still takes work
    agent.ecc[1] = 1
    node = await assert_eventually(lambda: (n := _node(ctl)).cordoned and n)
    assert set(node.unhealthy_gpus) == {0, 1}
    assert node.reason.startswith("every GPU unhealthy (2 of 2)")
    [cordoned] = _events(ctl, "node_cordoned")
    assert cordoned.fields["requested_by"] == "health"
    # Cordoned: not even CPU-only work is placed there.
    await ctl_register(ctl, "cpu", types_pb2.WorkloadSpec())
    workload = ctl.state.workloads.get("default/cpu")
    assert workload is not None and ctl.state.placements.get("default/cpu") is None

    async with grpc.aio.insecure_channel(ctl.address) as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        # One GPU back: it and the node take work again; GPU 0 stays marked.
        reply = await admin.Uncordon(admin_pb2.CordonRequest(name="n1", clear_unhealthy_gpus=[1]))
        assert not reply.cordoned and set(reply.unhealthy_gpus) == {0}
        [cleared] = _events(ctl, "gpu_health_cleared")
        assert cleared.fields["gpu"] == "1"
        assert "uncorrected ECC errors: 0 -> 1" in cleared.message
        await assert_eventually(lambda: ctl.state.placements.get("default/cpu"))
        await ctl_register(ctl, "w", types_pb2.WorkloadSpec(resources=types_pb2.Resources(gpus=1)))
        placed = await assert_eventually(lambda: ctl.state.placements.get("default/w"))
        assert list(placed.gpus) == [1]

        # The counter it had does not mark it again: only a further rise would.
        seen = reports(ctl, "n1")
        await assert_eventually(lambda: reports(ctl, "n1") >= seen + 5, timeout_s=20)
        assert set(_node(ctl).unhealthy_gpus) == {0}

        # Everything else: every mark goes.
        reply = await admin.Uncordon(admin_pb2.CordonRequest(name="n1", clear_all_unhealthy=True))
        assert dict(reply.unhealthy_gpus) == {}
        assert len(_events(ctl, "gpu_health_cleared")) == 2


@pytest.mark.parametrize(
    ("method", "bad", "message"),
    [
        (
            "Uncordon",
            admin_pb2.CordonRequest(name="n1", clear_unhealthy_gpus=[7]),
            "clear_unhealthy_gpus: node n1 has no GPU 7",
        ),
        (
            "Cordon",
            admin_pb2.CordonRequest(name="n1", clear_all_unhealthy=True),
            "clear_unhealthy_gpus: only with Uncordon",
        ),
    ],
)
async def test_bad_clear_requests_name_the_field_and_change_nothing(
    controller: Controller,
    agent: FaultyAgent,
    method: str,
    bad: admin_pb2.CordonRequest,
    message: str,
) -> None:
    ctl = controller
    agent.ecc[0] = 1
    await assert_eventually(lambda: 0 in _node(ctl).unhealthy_gpus)
    before = _node(ctl)
    async with grpc.aio.insecure_channel(ctl.address) as channel:
        call = getattr(admin_pb2_grpc.AdminServiceStub(channel), method)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(bad)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (refused.value.details() or "")
    assert _node(ctl) == before
