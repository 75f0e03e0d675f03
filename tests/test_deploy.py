"""The example configs in deploy/ load with the real config loaders."""

from pathlib import Path

import pytest

from controlplane.app.config import load_config as load_controller_config
from nodeagent.config import load_config as load_agent_config

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_controller_example_config_loads() -> None:
    config = load_controller_config(DEPLOY / "config" / "controller.toml", environ={})
    assert config.listen == "0.0.0.0:7070" and len(config.etcd_endpoints) == 3


@pytest.mark.parametrize("name", ["agent.toml", "agent-sim.toml"])
def test_agent_example_configs_load(name: str) -> None:
    config = load_agent_config(str(DEPLOY / "config" / name), environ={})
    assert config.controller and config.backend in ("nvml", "sim")


@pytest.mark.parametrize("unit", ["aiwo-controller.service", "aiwo-agent.service"])
def test_units_notify_and_restart(unit: str) -> None:
    text = (DEPLOY / "systemd" / unit).read_text()
    assert "Type=notify" in text and "Restart=" in text and "NoNewPrivileges=yes" in text
