"""Admission of agent streams and their telemetry (pure rules), the leader-change grace
window, and both on a real controller: a node reconnecting in a tight loop is refused with
a time to retry, a flooding stream is ended, a garbage report still ends its stream with
INVALID_ARGUMENT, and the others keep reporting."""

from __future__ import annotations

import contextlib
import math
from dataclasses import replace

import grpc
import pytest

from controlplane.app.config import ControllerConfig
from controlplane.app.server import Controller
from controlplane.rpc.admission import FLOOD_DROPS_BEFORE_END, StreamAdmission, TelemetryPacer
from controlplane.view.cluster import Liveness
from sdk._metadata import accepted, retry_after_s
from sdk.pb.aiwo.v1 import node_pb2, node_pb2_grpc, types_pb2
from tests.controlplane.conftest import Stubs
from tests.helpers import assert_eventually, started


def test_streams_are_admitted_at_the_configured_pace() -> None:
    admission = StreamAdmission(ControllerConfig(agent_admission_rps=10, agent_reconnect_burst=5))
    # A burst of one second's worth, then one every 1/rate.
    waits = [admission.admit(f"n-{i}", 100.0) for i in range(12)]
    assert waits[:10] == [0.0] * 10
    assert all(0 < w <= 0.2 for w in waits[10:])
    assert admission.admit("n-late", 100.11) == 0.0


def test_a_node_reconnecting_in_a_tight_loop_gets_a_burst_then_waits() -> None:
    config = ControllerConfig(
        agent_admission_rps=1000, agent_reconnect_burst=3, agent_reconnect_interval_s=2.0
    )
    admission = StreamAdmission(config)
    assert [admission.admit("loop", 10.0) for _ in range(3)] == [0.0] * 3
    wait_s = admission.admit("loop", 10.0)
    assert 0 < wait_s <= 2.0
    assert admission.admit("other", 10.0) == 0.0  # the fleet's budget is not spent by it
    assert admission.admit("loop", 10.0 + wait_s + 1e-6) == 0.0


def test_a_stream_may_report_a_few_times_its_period_then_is_dropped() -> None:
    config = ControllerConfig(telemetry_interval_s=1.0, telemetry_burst_factor=4)
    pacer = TelemetryPacer.of(config, 0.0)
    assert [pacer.admit(0.0) for _ in range(6)] == [True] * 4 + [False] * 2
    assert pacer.admit(0.25)  # refilled at 4 per second
    assert not pacer.flooding
    for _ in range(FLOOD_DROPS_BEFORE_END):
        pacer.admit(0.25)
    assert pacer.flooding
    steady = TelemetryPacer.of(config, 0.0)
    assert all(steady.admit(float(t)) for t in range(100))  # 1 Hz is never dropped


def test_no_node_goes_not_ready_inside_the_leader_change_window() -> None:
    liveness = Liveness()
    liveness.grace_all(["a"], now=100.0, window_s=30.0)
    assert liveness.grace_s(10.0, now=105.0) == math.inf
    assert liveness.grace_s(10.0, now=129.9) == math.inf
    assert liveness.grace_s(10.0, now=130.0) == 10.0
    liveness.grace_all(["a"], now=200.0)  # no window: the node grace only
    assert liveness.grace_s(10.0, now=200.0) == 10.0


# ---------------------------------------------------------------- on a real controller


def _info(name: str) -> types_pb2.NodeInfo:
    return types_pb2.NodeInfo(
        name=name,
        cpu_milli=1000,
        memory_mib=1024,
        gpus=[types_pb2.GpuInfo(index=0, model="H100", memory_total_mib=80_000)],
    )


def _report(power_w: float = 100.0, index: int = 0) -> node_pb2.AgentMessage:
    return node_pb2.AgentMessage(
        telemetry=node_pb2.TelemetryReport(
            time_unix=1.8e9, gpus=[types_pb2.GpuSample(index=index, power_w=power_w)]
        )
    )


async def _connect(stub: node_pb2_grpc.NodeServiceStub, name: str):  # type: ignore[no-untyped-def]
    await stub.Register(node_pb2.RegisterNodeRequest(node=_info(name)))
    call = stub.Connect()
    await call.write(node_pb2.AgentMessage(hello=node_pb2.AgentHello(node=name)))
    return call


async def _admitted(stub: node_pb2_grpc.NodeServiceStub, name: str):  # type: ignore[no-untyped-def]
    """`name`'s stream, once the controller has accepted it."""
    call = await _connect(stub, name)
    assert accepted(await call.initial_metadata())
    return call


@pytest.fixture
async def paced(controller_config: ControllerConfig):  # type: ignore[no-untyped-def]
    config = replace(controller_config, agent_reconnect_burst=2, agent_reconnect_interval_s=60)
    async with started(Controller(config)) as ctl:
        yield ctl


async def test_tight_reconnects_are_refused_with_a_time_to_retry(paced: Controller) -> None:
    async with grpc.aio.insecure_channel(paced.address) as channel:
        stub = node_pb2_grpc.NodeServiceStub(channel)
        for _ in range(2):
            call = await _admitted(stub, "looper")
            call.cancel()
        call = await _connect(stub, "looper")
        assert await call.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        wait_s = retry_after_s(await call.trailing_metadata())
        assert wait_s is not None and 0 < wait_s <= 60
        # Another node is admitted meanwhile, and its reports are stored.
        good = await _admitted(stub, "steady")
        await good.write(_report(123.0))
        await assert_eventually(lambda: _power(paced, "steady") == 123.0)
        good.cancel()


async def test_garbage_ends_the_stream_with_invalid_argument_and_stores_nothing(
    controller: Controller, stubs: Stubs
) -> None:
    call = await _admitted(stubs.node, "garbage")
    await call.write(_report(float("nan")))
    assert await _ended(call) == grpc.StatusCode.INVALID_ARGUMENT
    assert "telemetry.gpus[0].power_w" in (await call.details() or "")
    assert _power(controller, "garbage") is None


async def test_a_flooding_stream_is_ended_and_its_excess_not_stored(
    controller: Controller, stubs: Stubs
) -> None:
    call = await _admitted(stubs.node, "flood")
    with contextlib.suppress(grpc.aio.AioRpcError):  # writes fail once it is ended
        for i in range(100_000):
            await call.write(_report(float(i % 500)))
    assert await _ended(call) == grpc.StatusCode.RESOURCE_EXHAUSTED
    series = controller.state.telemetry.get("flood")
    assert series is not None
    # Only the stream's budget was stored, not what it sent.
    assert series.count < 100


async def _ended(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    """Read what the controller sent until the stream ends; its status code."""
    with contextlib.suppress(grpc.aio.AioRpcError):
        async for _ in call:
            pass
    return await call.code()  # type: ignore[no-any-return]


def _power(controller: Controller, node: str) -> float | None:
    series = controller.state.telemetry.get(node)
    latest = series.latest(0) if series is not None else None
    return None if latest is None else latest[1].power_w


def test_the_leader_change_window_is_sized_to_the_fleet() -> None:
    config = ControllerConfig(node_grace_s=10, agent_admission_rps=1000)
    assert config.leader_grace_for(3) == pytest.approx(10.0, abs=0.01)  # as before: one grace
    assert config.leader_grace_for(10_000) == pytest.approx(30.0)
    assert replace(config, leader_grace_s=45).leader_grace_for(10_000) == 45
