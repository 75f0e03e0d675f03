"""An attached application rides out a controller restart (real processes)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk import AiwoError, Client, ClientConfig, DirectiveKind, ReconnectPolicy, Resources, SloHints
from tests.helpers import EtcdMember, assert_eventually, free_port
from tests.sdk.processes import LocalControlPlane, control_plane


@pytest.fixture
def restartable(etcd: EtcdMember, tmp_path: Path) -> Iterator[LocalControlPlane]:
    # A fixed port, so that the restarted controller is where the client expects it.
    with control_plane(etcd, tmp_path, listen=f"127.0.0.1:{free_port()}") as plane:
        plane.start_agent("node-1")
        yield plane


async def test_attach_reconnects_when_the_controller_restarts(
    restartable: LocalControlPlane,
) -> None:
    config = ClientConfig(reconnect=ReconnectPolicy(initial_backoff_s=0.1, max_backoff_s=0.5))
    async with await Client.connect(restartable.address, config=config) as client:

        async def registered() -> bool:
            handle = await client.register(
                "svc", slo=SloHints(p99_latency_ms=50), resources=Resources(gpus=1)
            )
            await handle.wait_placed(timeout=5)
            return True

        # The agent may still be registering: retry until it has been placed.
        await assert_eventually(_quiet(registered), timeout_s=30, interval_s=0.5)
        handle = client.get_handle("svc")
        async with handle.attach() as session:
            stream = session.directives()
            first = await asyncio.wait_for(anext(stream), 10)
            assert first.kind == DirectiveKind.PLACEMENT

            await asyncio.to_thread(restartable.restart_controller)
            # On the new controller the workload is still placed (state is in etcd), so
            # the re-attached stream opens with a PLACEMENT directive again.
            again = await asyncio.wait_for(anext(stream), 30)
            assert again.kind == DirectiveKind.PLACEMENT and again.id != first.id
            assert session.reconnects >= 1

            async def metrics_flow() -> bool:
                await session.report(latency_ms=[20.0, 30.0], throughput_per_s=10)
                return (await handle.describe()).p99_latency_ms > 0

            await assert_eventually(metrics_flow, timeout_s=15, interval_s=0.3)


def _quiet(check):  # type: ignore[no-untyped-def]
    """Turn SDK errors into "not yet" for assert_eventually."""

    async def wrapped() -> bool:
        try:
            return bool(await check())
        except AiwoError as exc:
            raise AssertionError(str(exc)) from exc

    return wrapped
