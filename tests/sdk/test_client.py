"""Client and AttachSession against the real controller, in process, on a real etcd.

The controller sends directives for its own reasons only, so each test causes one: a
PLACEMENT comes when an attached workload is (or gets) placed, a MIGRATE when an operator
migrates a workload that runs itself (admin Migrate). What the application sent is read
back from what the controller made of it: the p99 in Get, the migration that an ack
completes or fails, the `directive_failed` event, the metrics it keeps per workload.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from controlplane.leader.decisions import Batch
from sdk import (
    AlreadyExists,
    Client,
    ClientConfig,
    Conflict,
    Directive,
    DirectiveKind,
    MigrationPhase,
    NotFound,
    PlacementTimeout,
    ReconnectPolicy,
    Resources,
    SloHints,
    Unschedulable,
)
from sdk.pb.aiwo.v1 import types_pb2
from tests.helpers import assert_eventually
from tests.sdk.conftest import Cluster

FAST = ClientConfig(
    placement_poll_s=0.02,
    reconnect=ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.2),
)


async def test_register_sends_resolved_priority_and_spec(cluster: Cluster) -> None:
    await cluster.add_node("node-1")
    async with await Client.connect(cluster.address, config=FAST) as client:
        handle = await client.register(
            "web",
            priority="high",
            slo=SloHints(p99_latency_ms=50),
            resources=Resources(gpus=1, milli_gpu=250, gpu_models=["H100"]),
        )
        assert handle.key == "default/web"
        stored = await client.get("web")  # as the controller keeps it
        assert (stored.spec.priority_class, stored.spec.priority, stored.priority) == (
            "high",
            750,
            750,
        )
        assert stored.spec.slo.p99_latency_ms == 50
        assert (stored.spec.resources.gpus, stored.spec.resources.milli_gpu) == (1, 250)
        assert list(stored.spec.resources.gpu_models) == ["H100"]
        # Identical spec again: idempotent (the same workload); a different one: AlreadyExists.
        again = await client.register(
            "web",
            priority="high",
            slo=SloHints(p99_latency_ms=50),
            resources=Resources(gpus=1, milli_gpu=250, gpu_models=["H100"]),
        )
        assert again.last_seen is not None
        assert (again.last_seen.uid, again.last_seen.generation) == (stored.uid, 1)
        with pytest.raises(AlreadyExists):
            await client.register("web", priority="low")
        assert (await client.get("web")).spec == stored.spec


async def test_wait_placed_polls_until_placed(cluster: Cluster) -> None:
    await cluster.add_node("node-3", gpus=2)
    async with await Client.connect(cluster.address, config=FAST) as client:
        first = await client.register("first", priority="high", resources=Resources(gpus=2))
        await first.wait_placed(timeout=10)
        handle = await client.register("web", resources=Resources(gpus=2))
        # It fits the node, but not now: it waits, pending (and preempts nothing higher).
        with pytest.raises(PlacementTimeout, match="phase pending"):
            await handle.wait_placed(timeout=0.2)
        waiting = asyncio.create_task(handle.wait_placed(timeout=15))
        await first.deregister()
        placement = await waiting
        assert placement.node == "node-3" and sorted(placement.gpus) == [0, 1]
        stored = await client.get("web")
        assert stored.placement == placement


async def test_update_merges_and_is_conditional(cluster: Cluster) -> None:
    async with await Client.connect(cluster.address, config=FAST) as client:
        handle = await client.register("web", priority="normal", resources=Resources(gpus=1))
        updated = await handle.update(priority=600)
        # An integer priority has no class; the resources were kept.
        assert (updated.spec.priority, updated.spec.priority_class) == (600, "")
        assert updated.priority == 600 and updated.spec.resources.gpus == 1
        assert updated.generation == 2
        again = await handle.update(slo=SloHints(p99_latency_ms=80))
        assert again.spec.priority == 600 and again.spec.slo.p99_latency_ms == 80
        assert again.generation == 3
        assert (await client.get("web")).spec == again.spec


async def test_update_conflict_is_typed(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    async with await Client.connect(cluster.address, config=FAST) as client:
        handle = await client.register("web")
        someone_else = client.get_handle("web")
        read = handle.describe

        async def read_then_someone_else_updates():  # type: ignore[no-untyped-def]
            seen = await read()
            await someone_else.update(priority="high")
            return seen

        monkeypatch.setattr(handle, "describe", read_then_someone_else_updates)
        with pytest.raises(Conflict):
            await handle.update(priority="low")
        stored = await client.get("web")  # the other update was not undone
        assert (stored.spec.priority_class, stored.generation) == ("high", 2)


async def test_failed_precondition_is_unschedulable(cluster: Cluster) -> None:
    await cluster.add_node("node-1")  # 8 GPUs: the largest node there is
    async with await Client.connect(cluster.address, config=FAST) as client:
        with pytest.raises(Unschedulable, match="0/1 nodes could fit, even empty: 1 too few GPUs"):
            await client.register("big", resources=Resources(gpus=9))
        with pytest.raises(NotFound):  # nothing was registered
            await client.get("big")


async def test_deregister_then_get_is_not_found(cluster: Cluster) -> None:
    async with await Client.connect(cluster.address, config=FAST) as client:
        handle = await client.register("web")
        await handle.deregister()
        with pytest.raises(NotFound):
            await handle.describe()
        with pytest.raises(NotFound):
            await handle.deregister()


async def test_attach_hello_first_metrics_and_iterator_acks(cluster: Cluster) -> None:
    await cluster.two_nodes()
    async with await Client.connect(cluster.address, config=FAST) as client:
        handle = await client.register("web", resources=Resources(gpus=1))
        source = (await handle.wait_placed(timeout=10)).node
        target = cluster.other_node(source)
        async with handle.attach() as session:
            await session.wait_connected(timeout=5)
            await session.report(latency_ms=[10.0, 12.5], throughput_per_s=40, queue_depth=3)
            seen: list[Directive] = []
            async for d in session.directives():
                seen.append(d)
                if d.kind == DirectiveKind.PLACEMENT:
                    # Sent on attach, to a session the controller opened for this
                    # workload: the stream began with a hello naming default/web.
                    assert cluster.controller.sessions.apps.get("default/web")
                    await cluster.admin.migrate("web", to=target)
                    continue
                migration = await cluster.admin.get_migration("web")
                assert migration.phase == MigrationPhase.STARTING_ON_TARGET
                assert migration.pending_directive == d.id
                # A report sent now reaches the controller, and the migration still
                # waits: the MIGRATE is not acked while the loop body runs.
                await session.report(latency_ms=[11.0], throughput_per_s=41, queue_depth=4)
                await assert_eventually(lambda: _throughput(cluster, "default/web") == 41)
                assert (await cluster.admin.get_migration("web")).phase == (
                    MigrationPhase.STARTING_ON_TARGET
                )
                break
            assert [d.kind for d in seen] == [DirectiveKind.PLACEMENT, DirectiveKind.MIGRATE]
            assert (seen[0].node, seen[1].node) == (source, target)
            assert seen[1].workload == "default/web" and len(seen[1].gpus) == 1
            assert session.placement is not None and session.placement.node == target
        # Leaving the block acks the MIGRATE ok: the workload moved itself.
        done = await cluster.migration_done("web")
        assert done.phase == MigrationPhase.RUNNING, done.error
        assert (await handle.describe()).node == target
        status = cluster.controller.state.slo.status("default/web", time.time())
        assert status is not None and status.observations == 3
        assert 10.0 < (await handle.describe()).p99_latency_ms <= 12.5
        assert not await cluster.failed_acks("default/web")


def _throughput(cluster: Cluster, key: str) -> float:
    status = cluster.controller.state.slo.status(key, time.time())
    return status.throughput_per_s if status is not None else -1.0


async def test_iterator_body_exception_sends_failed_ack(cluster: Cluster) -> None:
    await cluster.two_nodes()
    async with await Client.connect(cluster.address, config=FAST) as client:
        handle = await client.register("web", resources=Resources(gpus=1))
        source = (await handle.wait_placed(timeout=10)).node
        moves: list[str] = []
        with pytest.raises(RuntimeError, match="disk full"):
            async with handle.attach() as session:
                async for d in session.directives():
                    if d.kind == DirectiveKind.PLACEMENT:
                        await cluster.admin.migrate("web", to=cluster.other_node(source))
                        continue
                    moves.append(d.id)
                    raise RuntimeError("disk full")
        failed = await cluster.migration_done("web")
        assert failed.phase == MigrationPhase.FAILED
        assert "could not move: RuntimeError: disk full" in failed.error
        assert (await handle.describe()).node == source  # moved back
        [event] = await assert_eventually(lambda: cluster.failed_acks("default/web"))
        assert f"directive {moves[0]} failed: RuntimeError: disk full" in event.message


async def test_callback_acks_ok_and_failed(cluster: Cluster) -> None:
    await cluster.two_nodes()
    handled: list[Directive] = []

    async def handler(d: Directive) -> None:
        handled.append(d)
        if d.kind == DirectiveKind.MIGRATE and d.node == source:
            raise ValueError(f"no checkpoint to restore on {d.node}")

    async with await Client.connect(cluster.address, config=FAST) as client:
        handle = await client.register("web", resources=Resources(gpus=1))
        source = (await handle.wait_placed(timeout=10)).node
        target = cluster.other_node(source)
        async with handle.attach(on_directive=handler):
            await assert_eventually(lambda: handled, message="no PLACEMENT on attach")
            await cluster.admin.migrate("web", to=target)
            moved = await cluster.migration_done("web")
            assert moved.phase == MigrationPhase.RUNNING, moved.error  # acked ok
            await cluster.admin.migrate("web", to=source)
            refused = await cluster.migration_done("web")
            assert refused.phase == MigrationPhase.FAILED  # acked failed
            assert f"ValueError: no checkpoint to restore on {source}" in refused.error
            # Rolled back: told where it runs again, and that is handled (ok) too.
            await assert_eventually(lambda: len(handled) == 4)
    kinds = [(d.kind, d.node) for d in handled]
    assert kinds == [
        (DirectiveKind.PLACEMENT, source),
        (DirectiveKind.MIGRATE, target),
        (DirectiveKind.MIGRATE, source),
        (DirectiveKind.PLACEMENT, target),
    ]
    [event] = await assert_eventually(lambda: cluster.failed_acks("default/web"))
    assert f"directive {handled[2].id} failed: ValueError" in event.message


async def test_attach_reconnects_after_controller_restart(cluster: Cluster) -> None:
    await cluster.add_node("node-1")
    async with await Client.connect(cluster.address, config=FAST) as client:
        handle = await client.register("web", resources=Resources(gpus=1))
        placement = await handle.wait_placed(timeout=10)
        with pytest.raises(RuntimeError, match="after the restart"):
            async with handle.attach() as session:
                stream = session.directives()
                first = await asyncio.wait_for(anext(stream), 10)
                assert first.kind == DirectiveKind.PLACEMENT

                await cluster.stop()
                await assert_eventually(lambda: not session.connected, timeout_s=5)
                await session.report(throughput_per_s=7)  # queued while disconnected
                await cluster.start()  # same address, same etcd prefix: same state

                # The new controller knows the workload is placed: the re-attached
                # stream (a new hello) opens with a PLACEMENT of its own.
                again = await asyncio.wait_for(anext(stream), 15)
                assert again.kind == DirectiveKind.PLACEMENT and again.id != first.id
                assert (again.node, again.gpus) == (placement.node, placement.gpus)
                assert session.reconnects >= 1
                assert cluster.controller.sessions.apps.get("default/web")
                await assert_eventually(lambda: _throughput(cluster, "default/web") == 7)
                raise RuntimeError("failed after the restart")
        # The ack of a directive of the new stream reached the new controller.
        [event] = await assert_eventually(lambda: cluster.failed_acks("default/web"))
        assert f"directive {again.id} failed: RuntimeError: failed after the restart" in (
            event.message
        )


async def test_a_directive_sent_again_after_a_restart_is_handled_once(cluster: Cluster) -> None:
    """The controller restarts while the app handles a MIGRATE: the new one sends the
    directive it still waits on under the same id, the SDK does not hand it over twice, and
    the one ack (sent on the new stream) completes the migration."""
    await cluster.two_nodes()
    handled: list[Directive] = []
    release = asyncio.Event()

    async def handler(d: Directive) -> None:
        handled.append(d)
        if d.kind == DirectiveKind.MIGRATE:
            await release.wait()  # still moving when the controller goes away

    async with await Client.connect(cluster.address, config=FAST) as client:
        handle = await client.register("web", resources=Resources(gpus=1))
        source = (await handle.wait_placed(timeout=10)).node
        target = cluster.other_node(source)
        async with handle.attach(on_directive=handler) as session:
            await assert_eventually(lambda: handled, message="no PLACEMENT on attach")
            await cluster.admin.migrate("web", to=target)
            await assert_eventually(lambda: len(handled) == 2, message="no MIGRATE")
            await cluster.stop()
            await cluster.start()
            await assert_eventually(lambda: session.reconnects >= 1 and session.connected)
            await assert_eventually(
                lambda: cluster.controller.migrations.unanswered_directive(
                    "default/web", time.time()
                ),
                message="the new controller does not wait on the MIGRATE",
            )
            release.set()
            moved = await cluster.migration_done("web")
            assert moved.phase == MigrationPhase.RUNNING, moved.error
    migrates = [d for d in handled if d.kind == DirectiveKind.MIGRATE]
    assert len(migrates) == 1 and migrates[0].node == target


async def test_attach_to_unknown_workload_raises_not_found(cluster: Cluster) -> None:
    async with await Client.connect(cluster.address, config=FAST) as client:
        async with client.get_handle("ghost").attach() as session:
            with pytest.raises(NotFound, match="ghost"):
                async for _ in session.directives():
                    pass
            with pytest.raises(NotFound):
                await session.report(throughput_per_s=1)
            assert session.reconnects == 0  # not retried
        assert "default/ghost" not in cluster.controller.sessions.apps


async def test_the_cooperative_throttle_held_is_reported_with_the_metrics(
    cluster: Cluster,
) -> None:
    """The app's THROTTLE acked ok is what it holds until an UNTHROTTLE; every metrics
    report says so, and a new leader reads it there (it did not send the directive)."""
    await cluster.add_node("node-a", gpus=1)
    decisions = cluster.controller.decisions

    async def direct(kind: int, factor: float = 0.0) -> None:
        batch = Batch()  # as the runtime loop sends a relief rung
        decisions.stage_directive(batch, "default/web", time.time(), kind=kind, factor=factor)
        await decisions.commit(batch)

    def held() -> float | None:
        status = cluster.controller.state.slo.status("default/web", time.time())
        assert status is not None
        return status.throttle_factor

    async with await Client.connect(cluster.address, config=FAST) as client:
        handle = await client.register("web", resources=Resources(gpus=1))
        await handle.wait_placed(timeout=10)
        handled: list[Directive] = []

        def on_directive(d: Directive) -> None:
            handled.append(d)
            if d.kind == DirectiveKind.THROTTLE and d.factor < 0.2:
                raise RuntimeError("cannot go that low")

        async with handle.attach() as session:
            session.on_directive(on_directive)
            await session.wait_connected(timeout=5)
            await session.report(latency_ms=[10.0])
            await assert_eventually(lambda: _throughput(cluster, "default/web") == 0)
            assert held() is None
            await direct(types_pb2.DIRECTIVE_KIND_THROTTLE, 0.4)
            await assert_eventually(lambda: session.throttle == 0.4)
            await session.report(latency_ms=[10.0], throughput_per_s=1)
            await assert_eventually(lambda: held() == 0.4)
            await direct(types_pb2.DIRECTIVE_KIND_THROTTLE, 0.1)  # refused: 0.4 still holds

            async def refused() -> bool:
                return len(await cluster.failed_acks("default/web")) == 1

            await assert_eventually(refused)
            assert session.throttle == 0.4
            await direct(types_pb2.DIRECTIVE_KIND_UNTHROTTLE)
            await assert_eventually(lambda: session.throttle is None)
            await session.report(latency_ms=[10.0], throughput_per_s=2)
            await assert_eventually(lambda: _throughput(cluster, "default/web") == 2)
            assert held() is None
        kinds = [d.kind for d in handled if d.kind != DirectiveKind.PLACEMENT]
        assert kinds == [DirectiveKind.THROTTLE, DirectiveKind.THROTTLE, DirectiveKind.UNTHROTTLE]
