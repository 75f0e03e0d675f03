"""The agent's configuration: bad values are named before anything starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nodeagent.config import ConfigError, load_config


@pytest.mark.parametrize("controller", ["", " , ", "localhost", "host:", ":7070", "h:99999", "h:x"])
def test_a_controller_address_without_host_and_port_is_refused(controller: str) -> None:
    with pytest.raises(ConfigError, match=r"controller: expected HOST:PORT"):
        load_config(environ={}, overrides={"controller": controller, "node": "n1"})


def test_several_controllers_are_accepted() -> None:
    config = load_config(environ={}, overrides={"controller": "a:1, b:2,[::1]:3", "node": "n1"})
    assert config.controller == "a:1, b:2,[::1]:3"


def test_the_agent_says_what_is_wrong_in_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nodeagent.main", "--controller", "", "--backend", "sim"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "controller: expected HOST:PORT" in proc.stderr
    assert "Traceback" not in proc.stderr
