"""Where the controller is: explicit > AIWO_CONTROLLER > STATE_DIR/cluster.json > default."""

from __future__ import annotations

import json
from pathlib import Path

from sdk._target import (
    DEFAULT_TARGET,
    read_cluster_file,
    resolve_target,
    resolve_target_with_source,
    state_dir,
)


def test_state_dir_order(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    assert state_dir(home) == tmp_path / ".local" / "state" / "aiwo"
    xdg = {**home, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    assert state_dir(xdg) == tmp_path / "xdg" / "aiwo"
    explicit = {**xdg, "AIWO_STATE_DIR": str(tmp_path / "mine")}
    assert state_dir(explicit) == tmp_path / "mine"


def test_resolution_order(tmp_path: Path) -> None:
    env = {"AIWO_STATE_DIR": str(tmp_path)}
    assert resolve_target_with_source(None, env) == (DEFAULT_TARGET, "default")

    (tmp_path / "cluster.json").write_text(json.dumps({"controller": "127.0.0.1:7001"}))
    assert resolve_target(None, env) == "127.0.0.1:7001"

    env["AIWO_CONTROLLER"] = "127.0.0.1:7002"
    assert resolve_target_with_source(None, env) == ("127.0.0.1:7002", "AIWO_CONTROLLER")

    assert resolve_target("10.0.0.1:7070", env) == "10.0.0.1:7070"


def test_unreadable_cluster_file_is_ignored(tmp_path: Path) -> None:
    env = {"AIWO_STATE_DIR": str(tmp_path)}
    (tmp_path / "cluster.json").write_text("{half a file")
    assert read_cluster_file(environ=env) is None
    assert resolve_target(None, env) == DEFAULT_TARGET
    (tmp_path / "cluster.json").write_text(json.dumps(["not", "an", "object"]))
    assert read_cluster_file(environ=env) is None
    (tmp_path / "cluster.json").write_text(json.dumps({"controller": ""}))
    assert resolve_target(None, env) == DEFAULT_TARGET
