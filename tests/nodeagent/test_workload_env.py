"""The environment a managed workload starts from: the agent's interpreter first on PATH."""

from __future__ import annotations

from nodeagent.process_group import default_base_env


def test_own_interpreter_dir_comes_first_once_and_aiwo_settings_are_dropped() -> None:
    env = default_base_env(
        {"PATH": "/usr/bin:/venv/bin:/bin", "HOME": "/h", "AIWO_TOKEN": "secret"},
        "/venv/bin/python",
    )
    assert env == {"PATH": "/venv/bin:/usr/bin:/bin", "HOME": "/h"}


def test_without_a_path_the_system_default_follows() -> None:
    env = default_base_env({}, "/venv/bin/python")
    assert env["PATH"].split(":")[0] == "/venv/bin" and len(env["PATH"].split(":")) > 1
