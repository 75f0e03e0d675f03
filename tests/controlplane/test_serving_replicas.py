"""Replicas as managed workloads, endpoints on WatchEndpoints, draining on scale-in, traffic
validation, and a leader failover: a real controller on a real etcd, a scripted agent."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import (
    gateway_pb2,
    gateway_pb2_grpc,
    node_pb2,
    serving_pb2,
    serving_pb2_grpc,
    types_pb2,
)
from tests.controlplane.agentsim import ScriptedAgent, node_info
from tests.controlplane.test_serving import create, service_spec
from tests.helpers import assert_eventually


class Watch:
    """One WatchEndpoints stream, with what it has said so far."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.call = gateway_pb2_grpc.GatewayServiceStub(channel).WatchEndpoints(
            gateway_pb2.WatchEndpointsRequest(gateway="test-gw")
        )
        self.updates: list[gateway_pb2.EndpointsUpdate] = []
        self.endpoints: dict[str, list[tuple[str, str]]] = {}
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for update in self.call:
            self.updates.append(update)
            if update.snapshot:
                self.endpoints = {}
            for service in update.services:
                key = f"{service.namespace}/{service.name}"
                if service.max_replicas == 0:
                    self.endpoints.pop(key, None)
                else:
                    self.endpoints[key] = [(e.replica, e.address) for e in service.endpoints]

    async def close(self) -> None:
        self.call.cancel()
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


class Reporter:
    """A gateway's ReportTraffic stream: one report each `interval_s`, in flight per replica."""

    def __init__(self, channel: grpc.aio.Channel, interval_s: float = 0.2) -> None:
        self.in_flight: dict[str, int] = {}
        self.draining: set[str] = set()  # out of this gateway's endpoints
        self.arrivals = 3  # per report
        self.queued = 0  # held for want of a ready replica
        self.interval_s = interval_s
        self.sent = 0
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        self.call = stub.ReportTraffic(self._reports())

    async def _reports(self) -> AsyncIterator[gateway_pb2.TrafficReport]:
        while True:
            await asyncio.sleep(self.interval_s)
            replicas = [
                gateway_pb2.ReplicaTraffic(
                    replica=name, in_flight=n, draining=name in self.draining
                )
                for name, n in sorted(self.in_flight.items())
            ]
            self.sent += 1
            yield gateway_pb2.TrafficReport(
                gateway="test-gw",
                time_unix=time.time(),
                interval_s=self.interval_s,
                services=[
                    gateway_pb2.ServiceTraffic(
                        namespace="default",
                        name="chat",
                        arrivals=self.arrivals,
                        completed=self.arrivals,
                        in_flight=sum(self.in_flight.values()),
                        queued=self.queued,
                        replicas=replicas,
                    )
                ],
            )

    async def close(self) -> None:
        self.call.cancel()
        with contextlib.suppress(BaseException):
            await self.call


def ready(workload: str, port: int) -> node_pb2.AgentMessage:
    return node_pb2.AgentMessage(
        process_event=node_pb2.ProcessEvent(workload=workload, kind="ready", pid=1, port=port)
    )


def starts(agent: ScriptedAgent) -> dict[str, types_pb2.StartWorkload]:
    return {c.start_workload.workload: c.start_workload for c in agent.actions("start_workload")}


def stops(agent: ScriptedAgent) -> set[str]:
    return {c.stop_workload.workload for c in agent.actions("stop_workload")}


async def test_replicas_start_become_endpoints_and_drain_before_they_stop(
    controller: Controller,
) -> None:
    agent = ScriptedAgent(controller.address, node_info("node-a", gpus=4))
    await agent.start()
    async with grpc.aio.insecure_channel(controller.address) as channel:
        serving = serving_pb2_grpc.ServingServiceStub(channel)
        watch = Watch(channel)
        reporter: Reporter | None = None
        try:
            spec = service_spec(1, 4)
            spec.drain_grace_s = 600  # only the gateway's word ends this drain
            await serving.CreateService(create("chat", spec))
            await serving.ScaleService(
                serving_pb2.ScaleServiceRequest(name="chat", namespace="default", replicas=2)
            )

            # Each replica is placed by the optimizer and started by the agent's supervisor.
            started = await assert_eventually(
                lambda: (s := starts(agent)).keys() >= {"default/chat-0", "default/chat-1"} and s
            )
            for index in (0, 1):
                launch = started[f"default/chat-{index}"].launch
                assert launch.serve and launch.health_path == "/healthz"
                assert launch.env["AIWO_REPLICA"] == str(index)
            await assert_eventually(lambda: watch.endpoints.get("default/chat") == [])

            # "ready" with the port: the endpoint appears, on the node's address.
            await agent.send(ready("default/chat-0", 8100))
            await assert_eventually(
                lambda: watch.endpoints["default/chat"] == [("chat-0", "127.0.0.1:8100")]
            )
            await agent.send(ready("default/chat-1", 8101))
            await assert_eventually(lambda: len(watch.endpoints["default/chat"]) == 2)
            # Re-sent after a reconnect: no news, no write.
            updates = len(watch.updates)
            await agent.send(ready("default/chat-1", 8101))

            # The gateway has two requests in flight on chat-1; scale-in picks it (both ready:
            # the highest index), takes it out of the endpoints first, and waits.
            reporter = Reporter(channel)
            reporter.in_flight = {"chat-0": 0, "chat-1": 2}
            await serving.ScaleService(
                serving_pb2.ScaleServiceRequest(name="chat", namespace="default", replicas=1)
            )
            await assert_eventually(
                lambda: watch.endpoints["default/chat"] == [("chat-0", "127.0.0.1:8100")]
            )
            assert len(watch.updates) == updates + 1  # the re-sent "ready" changed nothing
            service = controller.state.services.get("default/chat")
            assert service is not None
            draining = next(r for r in service.replicas if r.workload == "chat-1")
            assert draining.state == serving_pb2.REPLICA_STATE_DRAINING
            # Reports that cover only time after the drain began, still with requests on it.
            since = draining.state_since_unix
            sent = reporter.sent
            await assert_eventually(lambda: reporter.sent >= sent + 3)
            assert controller.state.traffic.drained("default/chat-1", since, time.time()) is False
            await controller.serving.pass_once(time.time())
            assert "default/chat-1" not in stops(agent)
            assert controller.state.workloads.get("default/chat-1") is not None

            # A bare 0 is not enough: it may predate the gateway's own removal.
            reporter.in_flight = {"chat-0": 0, "chat-1": 0}
            sent = reporter.sent
            await assert_eventually(lambda: reporter.sent >= sent + 3)
            await controller.serving.pass_once(time.time())
            assert "default/chat-1" not in stops(agent)
            # The gateway has it out of its endpoints, with nothing in flight: stopped.
            reporter.draining = {"chat-1"}
            await assert_eventually(lambda: "default/chat-1" in stops(agent))
            await assert_eventually(
                lambda: controller.state.workloads.get("default/chat-1") is None
            )
            assert "default/chat-0" not in stops(agent)
            events = controller.state.events_for("service/default/chat", 100)
            assert any(e.kind == "replica_stopped" and "drained" in e.message for e in events), [
                e.message for e in events
            ]
        finally:
            if reporter is not None:
                await reporter.close()
            await watch.close()
            await agent.stop()


async def _report_error(
    channel: grpc.aio.Channel, report: gateway_pb2.TrafficReport
) -> grpc.aio.AioRpcError:
    async def one() -> AsyncIterator[gateway_pb2.TrafficReport]:
        yield report

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway_pb2_grpc.GatewayServiceStub(channel).ReportTraffic(one(), timeout=5)
    return caught.value


def _traffic(**fields: object) -> gateway_pb2.TrafficReport:
    service = gateway_pb2.ServiceTraffic(namespace="default", name="chat")
    for path, value in fields.items():
        target: object = service
        *parents, leaf = path.split("__")
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, leaf, value)
    return gateway_pb2.TrafficReport(
        gateway="gw", time_unix=time.time(), interval_s=1.0, services=[service]
    )


@pytest.mark.parametrize(
    ("report", "field"),
    [
        (_traffic(ttft__p99_ms=math.nan), "report.services[0].ttft.p99_ms"),
        (_traffic(latency__sum_ms=-1.0), "report.services[0].latency.sum_ms"),
        (_traffic(chunk_gap__max_ms=math.inf), "report.services[0].chunk_gap.max_ms"),
        (_traffic(in_flight=-3), "report.services[0].in_flight"),
        (_traffic(queued=-1), "report.services[0].queued"),
        (_traffic(name="Not-A-Name"), "report.services[0].name"),
        (
            gateway_pb2.TrafficReport(gateway="gw", time_unix=1.0, interval_s=math.nan),
            "report.interval_s",
        ),
        (gateway_pb2.TrafficReport(gateway="", time_unix=1.0, interval_s=1.0), "report.gateway"),
    ],
)
async def test_traffic_reports_with_nonsense_are_refused(
    controller: Controller, report: gateway_pb2.TrafficReport, field: str
) -> None:
    async with grpc.aio.insecure_channel(controller.address) as channel:
        error = await _report_error(channel, report)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith(f"{field}:"), error.details()
    assert controller.state.traffic.recent("default/chat", time.time()) == []


async def test_a_failover_keeps_the_replica_set(make_controller) -> None:  # type: ignore[no-untyped-def]
    first = await make_controller(controller_id="c1")
    second = await make_controller(controller_id="c2")
    await assert_eventually(lambda: first.store.epoch > 0 or second.store.epoch > 0)
    leader, follower = (first, second) if first.store.epoch > 0 else (second, first)
    await assert_eventually(lambda: follower.leadership.leader_address == leader.address)
    async with ScriptedAgent(leader.address, node_info("node-a", gpus=4)) as agent:
        async with grpc.aio.insecure_channel(follower.address) as channel:
            serving = serving_pb2_grpc.ServingServiceStub(channel)
            await serving.CreateService(create("chat", service_spec(3, 4)))  # forwarded
            await assert_eventually(lambda: len(starts(agent)) == 3)
            await agent.send(ready("default/chat-0", 8100))

            def replicas(ctl: Controller) -> list[tuple[str, int]]:
                service = ctl.state.services.get("default/chat")
                return [] if service is None else [(r.workload, r.state) for r in service.replicas]

            await assert_eventually(
                lambda: (
                    (r := replicas(follower))
                    and r[0] == ("chat-0", serving_pb2.REPLICA_STATE_READY)
                )
            )
            # A follower refuses traffic reports, naming the leader.
            error = await _report_error(channel, _traffic())
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            assert leader.address in (error.details() or "")

            before = replicas(leader)
            uids = {k: w.uid for k, w in leader.state.workloads.items()}
            await leader.stop(0)
            await assert_eventually(lambda: follower.store.epoch > 0, timeout_s=20)
            # The new leader's passes find the same replicas: none added, none lost.
            await follower.serving.pass_once(time.time())
            await follower.serving.pass_once(time.time())
            assert replicas(follower) == before
            assert {k: w.uid for k, w in follower.state.workloads.items()} == uids
            watch = Watch(channel)
            try:
                await assert_eventually(
                    lambda: watch.endpoints.get("default/chat") == [("chat-0", "127.0.0.1:8100")]
                )
            finally:
                await watch.close()
