"""The SDK against the real controller (subprocess) on a real etcd, with a simulated agent."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from sdk import (
    AdminClient,
    AlreadyExists,
    Client,
    DirectiveKind,
    InvalidArgument,
    ModelVariant,
    NodeState,
    NotFound,
    Resources,
    SloHints,
    SyncClient,
    Unschedulable,
    WorkloadPhase,
)
from tests.helpers import assert_eventually
from tests.sdk.processes import LocalControlPlane

_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


@pytest.fixture
async def admin(plane: LocalControlPlane) -> AsyncIterator[AdminClient]:
    client = await AdminClient.connect(plane.address)

    async def node_ready() -> bool:
        nodes = await client.list_nodes()
        return any(n.name == "node-1" and n.state == NodeState.READY for n in nodes)

    await assert_eventually(node_ready, timeout_s=30, message="the agent did not register")
    yield client
    await client.close()


async def test_register_place_attach_and_report(
    plane: LocalControlPlane, admin: AdminClient
) -> None:
    name = unique("web")
    async with await Client.connect(plane.address) as client:
        handle = await client.register(
            name,
            priority="high",
            slo=SloHints(p99_latency_ms=100),
            resources=Resources(gpus=1, milli_gpu=250),
            variants=[ModelVariant("fp16"), ModelVariant("int8", latency_factor=0.6)],
        )
        placement = await handle.wait_placed(timeout=15)
        assert placement.node == "node-1" and len(placement.gpus) == 1

        async with handle.attach() as session:
            first = await asyncio.wait_for(anext(session.directives()), 10)
            assert first.kind == DirectiveKind.PLACEMENT
            assert (first.node, first.gpus) == (placement.node, placement.gpus)
            assert first.workload == f"default/{name}"
            assert session.placement is not None and session.placement.node == "node-1"

            async def p99_seen() -> bool:
                await session.report(latency_ms=[40.0] * 50 + [90.0], throughput_per_s=100)
                return (await handle.describe()).p99_latency_ms > 0

            await assert_eventually(p99_seen, timeout_s=15, interval_s=0.3, message="no p99")

        workloads = {w.name: w for w in await admin.list_workloads("default")}
        assert workloads[name].phase in (WorkloadPhase.PLACED, WorkloadPhase.RUNNING)
        assert workloads[name].spec.priority_class == "high" and workloads[name].priority == 750
        await handle.deregister()
        with pytest.raises(NotFound):
            await handle.describe()


@pytest.mark.parametrize(
    ("name", "resources", "field"),
    [
        ("Bad_Name", Resources(), "name"),
        ("x" * 64, Resources(), "name"),
        ("ok-name", Resources(gpus=1, milli_gpu=2000), "spec.resources.milli_gpu"),
        ("ok-name", Resources(gpus=-1), "spec.resources.gpus"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field(
    plane: LocalControlPlane, name: str, resources: Resources, field: str
) -> None:
    async with await Client.connect(plane.address) as client:
        with pytest.raises(InvalidArgument) as info:
            await client.register(name, resources=resources)
        assert info.value.field == field
        assert field in str(info.value)
        with pytest.raises(NotFound):  # nothing changed
            await client.get("ok-name")


async def test_never_fits_is_unschedulable(plane: LocalControlPlane, admin: AdminClient) -> None:
    async with await Client.connect(plane.address) as client:
        with pytest.raises(Unschedulable):
            await client.register(unique("huge"), resources=Resources(gpus=9))


async def test_different_spec_needs_update(plane: LocalControlPlane, admin: AdminClient) -> None:
    name = unique("svc")
    async with await Client.connect(plane.address) as client:
        handle = await client.register(name, priority="low")
        again = await client.register(name, priority="low")  # identical: idempotent
        assert again.key == handle.key
        with pytest.raises(AlreadyExists):
            await client.register(name, priority="high")
        updated = await handle.update(priority="high")
        assert updated.priority == 750 and updated.generation == 2
        await handle.deregister()


def test_sync_client_round_trip(plane: LocalControlPlane) -> None:
    name = unique("sync")
    with SyncClient.connect(plane.address) as client:
        handle = client.register(name, priority="batch", resources=Resources(gpus=2))
        placement = handle.wait_placed(timeout=15)
        assert len(placement.gpus) == 2
        with handle.attach() as session:
            directive = next(session.directives())
            assert directive.kind == DirectiveKind.PLACEMENT
            session.report(throughput_per_s=1000)
        handle.deregister()


async def test_admin_views_and_cordon(plane: LocalControlPlane, admin: AdminClient) -> None:
    gpus = await admin.list_gpus("node-1")
    assert [g.index for g in gpus] == list(range(8)) and {g.model for g in gpus} == {"H100"}
    info = await admin.cluster_info()
    assert info.controller and info.leader

    node = await admin.cordon("node-1", reason="maintenance")
    assert node.cordoned
    try:
        described = await admin.describe_node("node-1")
        assert described.node is not None and described.node.cordoned
        events = await admin.list_events("node/node-1", limit=20)
        assert any("cordon" in e.kind for e in events)
    finally:
        assert not (await admin.uncordon("node-1")).cordoned
    with pytest.raises(NotFound):
        await admin.get_node("no-such-node")
