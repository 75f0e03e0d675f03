"""The agent's configuration: bad values are named before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodeagent.agent import Agent
from nodeagent.config import ConfigError, load_config
from nodeagent.gpu import make_backend
from tests.helpers import run_module


@pytest.mark.parametrize("controller", ["", " , ", "localhost", "host:", ":7070", "h:99999", "h:x"])
def test_a_controller_address_without_host_and_port_is_refused(controller: str) -> None:
    with pytest.raises(ConfigError, match=r"controller: expected HOST:PORT"):
        load_config(environ={}, overrides={"controller": controller, "node": "n1"})


def test_several_controllers_are_accepted() -> None:
    config = load_config(environ={}, overrides={"controller": "a:1, b:2,[::1]:3", "node": "n1"})
    assert config.controller == "a:1, b:2,[::1]:3"


def test_the_agent_says_what_is_wrong_in_one_line() -> None:
    proc = run_module("nodeagent.main", "--controller", "", "--backend", "sim")
    assert proc.returncode != 0
    assert "controller: expected HOST:PORT" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_gpu_control_from_the_environment() -> None:
    base = {"AIWO_AGENT_NODE": "n1"}
    assert load_config(environ=base).gpu_control is True
    assert load_config(environ={**base, "AIWO_AGENT_GPU_CONTROL": "false"}).gpu_control is False
    assert load_config(environ={**base, "AIWO_AGENT_GPU_CONTROL": "On"}).gpu_control is True
    with pytest.raises(ConfigError, match=r"gpu_control: cannot use 'maybe' \(true or false\)"):
        load_config(environ={**base, "AIWO_AGENT_GPU_CONTROL": "maybe"})


def test_false_in_the_environment_is_false() -> None:
    # bool("false") is True: booleans from strings are parsed, not cast.
    config = load_config(environ={"AIWO_AGENT_NODE": "n1", "AIWO_AGENT_SHARED_CHECKPOINTS": "0"})
    assert config.shared_checkpoints is False


@pytest.mark.parametrize(("gpu_control", "reported"), [(True, True), (False, False)])
def test_gpu_control_decides_the_capabilities_the_node_reports(
    tmp_path: Path, gpu_control: bool, reported: bool
) -> None:
    config = load_config(
        environ={},
        overrides={"node": "n1", "state_dir": str(tmp_path), "gpu_control": gpu_control},
    )
    agent = Agent(config, make_backend("sim", count=1, node_name="n1"), capabilities=("x",))
    capabilities = set(agent.node_info().capabilities)
    assert ({"power-limit", "clock-lock"} <= capabilities) is reported
    assert "x" in capabilities
