"""The real agent over mutual TLS: it connects as the node its certificate names, and a
certificate for another node gets it nowhere."""

from __future__ import annotations

import asyncio
from pathlib import Path

from controlplane.app.server import Controller
from nodeagent.agent import Agent
from nodeagent.config import AgentConfig
from nodeagent.gpu import make_backend
from tests.helpers import assert_eventually, running
from tests.security.conftest import Credentials


def _agent(
    controller: Controller, credentials: Credentials, node: str, cert_of: str, tmp: Path
) -> Agent:
    cert, key = credentials.pki.node_certs[cert_of]
    config = AgentConfig(
        controller=controller.address,
        node=node,
        backend="sim",
        sim_gpus=2,
        telemetry_interval_s=0.2,
        state_dir=str(tmp / node),
        backoff_initial_s=0.1,
        backoff_max_s=0.5,
        tls_cert=str(cert),
        tls_key=str(key),
        tls_ca=str(credentials.pki.ca_cert),
    ).resolved()
    return Agent(config, make_backend("sim", model="H100", count=2, node_name=node))


async def test_an_agent_connects_over_mutual_tls(
    secure_controller: Controller, credentials: Credentials, tmp_path: Path
) -> None:
    agent = _agent(secure_controller, credentials, "node-a", "node-a", tmp_path)
    async with running(agent.run):
        await asyncio.wait_for(agent.connected.wait(), 10)
        await assert_eventually(
            lambda: secure_controller.state.telemetry.ensure("node-a", 2).latest(0) is not None
        )


async def test_an_agent_with_another_node_s_certificate_never_registers(
    secure_controller: Controller, credentials: Credentials, tmp_path: Path
) -> None:
    agent = _agent(secure_controller, credentials, "node-b", "node-a", tmp_path)
    async with running(agent.run):
        await asyncio.sleep(1.0)  # several attempts at the backoff above
        assert not agent.connected.is_set()
        assert secure_controller.state.nodes.get("node-b") is None
