"""Client and AttachSession against the scripted in-process WorkloadService."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from sdk import (
    AlreadyExists,
    Client,
    ClientConfig,
    Conflict,
    Directive,
    DirectiveKind,
    NotFound,
    PlacementTimeout,
    ReconnectPolicy,
    Resources,
    SloHints,
    Unschedulable,
)
from sdk.pb.aiwo.v1 import types_pb2
from tests.helpers import assert_eventually
from tests.sdk.fakes import FakeController

FAST = ClientConfig(
    placement_poll_s=0.02,
    reconnect=ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.2),
)


def directive(
    id: str, kind: Any = types_pb2.DIRECTIVE_KIND_THROTTLE, **fields
) -> types_pb2.Directive:
    return types_pb2.Directive(id=id, kind=kind, workload="default/web", **fields)


async def test_register_sends_resolved_priority_and_spec(fake: FakeController) -> None:
    async with await Client.connect(fake.target, config=FAST) as client:
        handle = await client.register(
            "web",
            priority="high",
            slo=SloHints(p99_latency_ms=50),
            resources=Resources(gpus=1, milli_gpu=250, gpu_models=["H100"]),
        )
        assert handle.key == "default/web"
        stored = fake.service.workloads[("default", "web")].spec
        assert (stored.priority_class, stored.priority) == ("high", 750)
        assert stored.resources.milli_gpu == 250
        assert list(stored.resources.gpu_models) == ["H100"]
        # Identical spec again: idempotent; a different one: AlreadyExists.
        await client.register(
            "web",
            priority="high",
            slo=SloHints(p99_latency_ms=50),
            resources=Resources(gpus=1, milli_gpu=250, gpu_models=["H100"]),
        )
        with pytest.raises(AlreadyExists):
            await client.register("web", priority="low")


async def test_wait_placed_polls_until_placed(fake: FakeController) -> None:
    async with await Client.connect(fake.target, config=FAST) as client:
        handle = await client.register("web", resources=Resources(gpus=2))
        with pytest.raises(PlacementTimeout, match="phase pending"):
            await handle.wait_placed(timeout=0.1)
        asyncio.get_running_loop().call_later(
            0.1, fake.service.place, "default", "web", "node-3", (2, 3)
        )
        placement = await handle.wait_placed(timeout=5)
        assert (placement.node, placement.gpus) == ("node-3", (2, 3))


async def test_update_merges_and_is_conditional(fake: FakeController) -> None:
    async with await Client.connect(fake.target, config=FAST) as client:
        handle = await client.register("web", priority="normal", resources=Resources(gpus=1))
        updated = await handle.update(priority=600)
        assert updated.spec.priority == 600 and updated.spec.resources.gpus == 1
        request = fake.service.updates[-1]
        assert request.expected_generation == 1
        assert request.spec.priority_class == ""


async def test_update_conflict_is_typed(fake: FakeController) -> None:
    async with await Client.connect(fake.target, config=FAST) as client:
        handle = await client.register("web")
        fake.service.race_next_get = True
        with pytest.raises(Conflict):
            await handle.update(priority="low")


async def test_failed_precondition_is_unschedulable(fake: FakeController) -> None:
    fake.service.fail_next = (
        grpc.StatusCode.FAILED_PRECONDITION,
        "needs 9 GPUs; largest node has 8",
    )
    async with await Client.connect(fake.target, config=FAST) as client:
        with pytest.raises(Unschedulable, match="largest node has 8"):
            await client.register("big", resources=Resources(gpus=9))


async def test_deregister_then_get_is_not_found(fake: FakeController) -> None:
    async with await Client.connect(fake.target, config=FAST) as client:
        handle = await client.register("web")
        await handle.deregister()
        with pytest.raises(NotFound):
            await handle.describe()


async def test_attach_hello_first_metrics_and_iterator_acks(fake: FakeController) -> None:
    async with await Client.connect(fake.target, config=FAST) as client:
        handle = await client.register("web")
        async with handle.attach() as session:
            await session.wait_connected(timeout=5)
            await session.report(latency_ms=[10.0, 12.5], throughput_per_s=40, queue_depth=3)
            await fake.service.directives.put(
                directive("d1", types_pb2.DIRECTIVE_KIND_PLACEMENT, node="node-1", gpus=[4])
            )
            await fake.service.directives.put(directive("d2", factor=0.5))
            seen: list[Directive] = []
            async for d in session.directives():
                seen.append(d)
                if d.id == "d1":
                    # Not acked while the loop body still runs.
                    assert not any(a.directive_id == "d1" for a in fake.service.log.acks)
                if len(seen) == 2:
                    break
            assert [d.kind for d in seen] == [DirectiveKind.PLACEMENT, DirectiveKind.THROTTLE]
            assert seen[1].factor == 0.5
            assert session.placement is not None and session.placement.gpus == (4,)
        log = fake.service.log
        assert log.first_messages == ["hello"]
        assert (log.hellos[0].name, log.hellos[0].namespace) == ("web", "default")
        assert list(log.metrics[0].latency_ms) == [10.0, 12.5]
        assert log.metrics[0].queue_depth == 3
        await assert_eventually(
            lambda: {(a.directive_id, a.ok) for a in log.acks} == {("d1", True), ("d2", True)}
        )


async def test_iterator_body_exception_sends_failed_ack(fake: FakeController) -> None:
    async with await Client.connect(fake.target, config=FAST) as client:
        handle = await client.register("web")
        with pytest.raises(RuntimeError, match="disk full"):
            async with handle.attach() as session:
                await fake.service.directives.put(
                    directive("c1", types_pb2.DIRECTIVE_KIND_CHECKPOINT)
                )
                async for _ in session.directives():
                    raise RuntimeError("disk full")
        await assert_eventually(lambda: fake.service.log.acks)
        ack = fake.service.log.acks[0]
        assert (ack.directive_id, ack.ok) == ("c1", False)
        assert "disk full" in ack.reason


async def test_callback_acks_ok_and_failed(fake: FakeController) -> None:
    handled: list[str] = []

    async def handler(d: Directive) -> None:
        handled.append(d.id)
        if d.kind == DirectiveKind.SWITCH_VARIANT:
            raise ValueError(f"no variant {d.variant}")

    async with await Client.connect(fake.target, config=FAST) as client:
        handle = await client.register("web")
        async with handle.attach(on_directive=handler):
            await fake.service.directives.put(directive("t1"))
            await fake.service.directives.put(
                directive("s1", types_pb2.DIRECTIVE_KIND_SWITCH_VARIANT, variant="int4")
            )
            await assert_eventually(lambda: len(fake.service.log.acks) == 2)
    acks = {a.directive_id: a for a in fake.service.log.acks}
    assert acks["t1"].ok
    assert not acks["s1"].ok and "no variant int4" in acks["s1"].reason
    assert handled == ["t1", "s1"]


async def test_attach_reconnects_after_controller_restart(fake: FakeController) -> None:
    async with await Client.connect(fake.target, config=FAST) as client:
        handle = await client.register("web")
        async with handle.attach() as session:
            await session.wait_connected(timeout=5)
            await fake.service.directives.put(
                directive("p1", types_pb2.DIRECTIVE_KIND_PLACEMENT, node="n1")
            )
            stream = session.directives()
            assert (await anext(stream)).id == "p1"

            await fake.stop()
            await assert_eventually(lambda: not session.connected, timeout_s=5)
            await session.report(throughput_per_s=7)  # queued while disconnected
            await fake.start()  # same port, same service state
            await assert_eventually(lambda: len(fake.service.log.hellos) == 2, timeout_s=10)

            # The controller replays p1 (it may have missed the ack), then sends p2.
            await fake.service.directives.put(
                directive("p1", types_pb2.DIRECTIVE_KIND_PLACEMENT, node="n1")
            )
            await fake.service.directives.put(directive("p2", types_pb2.DIRECTIVE_KIND_UNTHROTTLE))
            assert (await anext(stream)).id == "p2"  # p1 not delivered twice
            assert session.reconnects >= 1
        await assert_eventually(
            lambda: any(m.throughput_per_s == 7 for m in fake.service.log.metrics)
        )
        await assert_eventually(
            lambda: sum(a.directive_id == "p1" for a in fake.service.log.acks) >= 1
        )


async def test_attach_to_unknown_workload_raises_not_found(fake: FakeController) -> None:
    fake.service.attach_error = (grpc.StatusCode.NOT_FOUND, "workload default/ghost not found")
    async with await Client.connect(fake.target, config=FAST) as client:
        async with client.get_handle("ghost").attach() as session:
            with pytest.raises(NotFound, match="ghost"):
                async for _ in session.directives():
                    pass
            with pytest.raises(NotFound):
                await session.report(throughput_per_s=1)
    assert fake.service.streams_opened == 1  # not retried
