"""The example configs in deploy/ load with the real config loaders."""

from pathlib import Path

import pytest

from controlplane.app.config import load_config as load_controller_config
from gateway.config import load_config as load_gateway_config
from nodeagent.config import load_config as load_agent_config

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_controller_example_config_loads() -> None:
    config = load_controller_config(DEPLOY / "config" / "controller.toml", environ={})
    assert config.listen == "0.0.0.0:7070" and len(config.etcd_endpoints) == 3


@pytest.mark.parametrize("name", ["agent.toml", "agent-sim.toml"])
def test_agent_example_configs_load(name: str) -> None:
    config = load_agent_config(str(DEPLOY / "config" / name), environ={})
    assert config.controller and config.backend in ("nvml", "sim")


def test_gateway_example_config_loads() -> None:
    config = load_gateway_config(DEPLOY / "config" / "gateway.toml", environ={})
    assert config.listen == "0.0.0.0:8080" and config.controller
    assert config.tls_cert and config.tls_key and config.tls_ca  # its own identity


@pytest.mark.parametrize(
    "unit", ["aiwo-controller.service", "aiwo-agent.service", "aiwo-gateway.service"]
)
def test_units_notify_and_restart(unit: str) -> None:
    text = (DEPLOY / "systemd" / unit).read_text()
    assert "Type=notify" in text and "Restart=" in text and "NoNewPrivileges=yes" in text


def test_gateway_unit_runs_the_gateway_with_its_config() -> None:
    text = (DEPLOY / "systemd" / "aiwo-gateway.service").read_text()
    assert "/opt/aiwo/bin/aiwo-gateway --config /etc/aiwo/gateway.toml" in text
    assert "User=aiwo" in text and "LoadCredential=gateway-key.pem:" in text
