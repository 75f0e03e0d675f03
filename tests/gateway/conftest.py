from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest

from gateway.app import Gateway
from gateway.config import GatewayConfig
from tests.gateway.harness import FakeController, Replica
from tests.helpers import assert_eventually

GatewayFactory = Callable[..., Awaitable[Gateway]]
ReplicaFactory = Callable[[str], Awaitable[Replica]]


@pytest.fixture
async def controller() -> AsyncIterator[FakeController]:
    fake = FakeController()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def make_replica() -> AsyncIterator[ReplicaFactory]:
    started: list[Replica] = []

    async def make(name: str) -> Replica:
        replica = await Replica(name).start()
        started.append(replica)
        return replica

    yield make
    for replica in started:
        replica.release.set()
        await replica.stop()


@pytest.fixture
async def make_gateway(controller: FakeController) -> AsyncIterator[GatewayFactory]:
    started: list[Gateway] = []

    async def make(**settings: Any) -> Gateway:
        config = replace(
            GatewayConfig(
                listen="127.0.0.1:0",
                controller=f"127.0.0.1:{controller.port}",
                name="gw-test",
                metrics_listen="",
                report_interval_s=0.2,
                backoff_initial_s=0.05,
                backoff_max_s=0.5,
            ),
            **settings,
        ).resolved()
        gateway = Gateway(config)
        await gateway.start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        await gateway.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, force_close=True)
    ) as session:
        yield session


def url(gateway: Gateway, path: str) -> str:
    return f"http://127.0.0.1:{gateway.port}{path}"


@dataclass
class Rig:
    """The four fixtures a proxy test takes together, and the set-up most of them share."""

    controller: FakeController
    replica: ReplicaFactory
    gateway: GatewayFactory
    http: aiohttp.ClientSession

    async def serve(
        self, service: str, *names: str, **settings: Any
    ) -> tuple[Gateway, list[Replica]]:
        """Replicas `names` listed as default/`service`, and a gateway (`settings` over the
        test defaults) that has received the listing."""
        replicas = [await self.replica(name) for name in names]
        self.controller.set(service, {r.name: r.address for r in replicas})
        gateway = await self.gateway(**settings)
        await assert_eventually(lambda: gateway.table.has_listed(("default", service)))
        return gateway, replicas

    async def cold(self, service: str, max_replicas: int, **settings: Any) -> Gateway:
        """default/`service` known with no ready replica (scale from zero), and a gateway
        (`settings` over the test defaults) that knows it."""
        self.controller.set(service, {}, max_replicas=max_replicas)
        gateway = await self.gateway(**settings)
        await assert_eventually(lambda: gateway.table.known(("default", service)))
        return gateway


@pytest.fixture
def rig(
    controller: FakeController,
    make_replica: ReplicaFactory,
    make_gateway: GatewayFactory,
    http: aiohttp.ClientSession,
) -> Rig:
    return Rig(controller, make_replica, make_gateway, http)
