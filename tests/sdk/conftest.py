from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from functools import partial

import grpc
import pytest

from controlplane.app.config import ControllerConfig
from controlplane.app.server import Controller
from sdk import AdminClient, Event, Migration
from sdk.pb.aiwo.v1 import types_pb2
from tests.controlplane.agentsim import ScriptedAgent, node_info
from tests.helpers import EtcdMember, assert_eventually, free_port, make_controller_config
from tests.sdk.processes import LocalControlPlane, control_plane


@pytest.fixture(scope="module")
def plane(
    etcd: EtcdMember, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalControlPlane]:
    """The real controller (subprocess) with one simulated 8×H100 agent, per test module.

    Tests share it and keep apart by workload name; each module gets a fresh etcd prefix.
    """
    with control_plane(etcd, tmp_path_factory.mktemp("plane")) as running:
        running.start_agent("node-1")
        yield running


@dataclass
class Cluster:
    """The real controller in the test's event loop, on a fixed port and a fresh etcd
    prefix, with nodes whose agents are scripted over the real NodeService stream.

    In-process so that a test can restart it on the same address, and read what it
    recorded that no RPC returns (e.g. the queue depth an application reported).
    """

    config: ControllerConfig
    controller: Controller
    admin: AdminClient
    agents: dict[str, ScriptedAgent] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.controller.address

    async def add_node(self, name: str, gpus: int = 8) -> ScriptedAgent:
        agent = ScriptedAgent(self.address, node_info(name, gpus=gpus))
        await agent.start()
        self.agents[name] = agent
        return agent

    def other_node(self, node: str) -> str:
        """Of two nodes, the one that is not `node`."""
        [name] = set(self.agents) - {node}
        return name

    async def two_nodes(self) -> None:
        await self.add_node("node-a", gpus=2)
        await self.add_node("node-b", gpus=2)

    async def failed_acks(self, key: str) -> list[Event]:
        """The controller's record of the failed directive acks it received for `key`."""
        events = await self.admin.list_events(f"workload/{key}", limit=100)
        return [e for e in events if e.kind == "directive_failed"]

    async def migration_done(self, name: str) -> Migration:
        async def done() -> Migration | None:
            migration = await self.admin.get_migration(name)
            return migration if migration.done else None

        return await assert_eventually(done, message=f"the migration of {name} did not end")

    async def start(self) -> None:
        """After `stop`: a new controller on the same address and etcd prefix (the agents
        reconnect to it, as real ones would)."""
        self.controller = Controller(self.config)
        await self.controller.start()
        for name, agent in list(self.agents.items()):
            self.agents[name] = await assert_eventually(
                partial(self._connect_agent, agent.info),
                message=f"{name} did not reconnect",
            )

    async def _connect_agent(self, info: types_pb2.NodeInfo) -> ScriptedAgent:
        agent = ScriptedAgent(self.address, info)
        try:
            await agent.start()
        except grpc.aio.AioRpcError as exc:
            # gRPC may still be backing off from the address that was down: try again.
            await agent.stop()
            raise AssertionError(exc.details()) from exc
        return agent

    async def stop(self) -> None:
        for agent in self.agents.values():
            await agent.stop()
        await self.controller.stop(0)


@pytest.fixture
async def cluster(etcd: EtcdMember, etcd_prefix: str) -> AsyncIterator[Cluster]:
    """A fresh in-process controller per test, with no nodes until the test adds some.

    The runtime loop is off: the only directives are those the test causes (placements,
    migrations), so what an application receives is deterministic.
    """
    config = make_controller_config(
        etcd,
        etcd_prefix,
        listen=f"127.0.0.1:{free_port()}",  # fixed: a restart comes back on it
        optimize_interval_s=0.2,
        runtime_enabled=False,
    )
    ctl = Controller(config)
    await ctl.start()
    admin = await AdminClient.connect(ctl.address)
    running = Cluster(config, ctl, admin)
    try:
        yield running
    finally:
        await admin.close()
        await running.stop()
