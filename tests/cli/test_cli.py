"""The `aiwo` command against the real controller, a dead address, and its plugin hand-over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sdk.cli.main import cli
from tests.helpers import free_port
from tests.sdk.processes import LocalControlPlane

AIWO = [sys.executable, "-m", "sdk.cli.main"]


def aiwo(plane: LocalControlPlane, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--controller", plane.address, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def wait_for_node(plane: LocalControlPlane) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        nodes = json.loads(aiwo(plane, "nodes", "-o", "json"))
        if nodes and nodes[0]["state"] == "ready":
            return
        time.sleep(0.2)
    raise AssertionError("node-1 not ready")


def test_listings_as_json(plane: LocalControlPlane) -> None:
    wait_for_node(plane)
    [node] = json.loads(aiwo(plane, "nodes", "-o", "json"))
    assert node["name"] == "node-1" and node["state"] == "ready" and node["gpu_count"] == 8

    gpus = json.loads(aiwo(plane, "gpus", "-o", "json"))
    assert [(g["node"], g["index"], g["model"]) for g in gpus] == [
        ("node-1", i, "H100") for i in range(8)
    ]
    only = json.loads(aiwo(plane, "gpus", "--node", "node-1", "-o", "json"))
    assert len(only) == 8 and {g["node"] for g in only} == {"node-1"}

    out = aiwo(plane, "register", "demo", "--priority", "high", "--gpus", "1", "--milli-gpu", "500",
               "--p99-ms", "80", "--variant", "int8:250:0.6", "--wait")  # fmt: skip
    assert "placed on node-1[" in out
    workloads = json.loads(aiwo(plane, "workloads", "-o", "json"))
    demo = next(w for w in workloads if w["name"] == "demo")
    assert demo["namespace"] == "default" and demo["phase"] in ("placed", "running")
    assert demo["node"] == "node-1" and len(demo["gpus"]) == 1
    assert demo["spec"]["variants"][0]["name"] == "int8"
    everywhere = json.loads(aiwo(plane, "workloads", "-A", "-o", "json"))
    assert any(w["name"] == "demo" for w in everywhere)

    events = json.loads(aiwo(plane, "events", "--object", "workload/default/demo", "-o", "json"))
    assert events and all(e["object"].startswith("workload/default/demo") for e in events)
    assert {"id", "time_unix", "kind", "object", "message", "fields"} <= set(events[0])


def test_tables_and_operations(plane: LocalControlPlane) -> None:
    wait_for_node(plane)
    aiwo(plane, "register", "table-demo", "--gpus", "2", "--priority", "batch", "--wait")
    assert "node-1" in aiwo(plane, "nodes")
    assert "H100" in aiwo(plane, "gpus")
    assert "table-demo" in aiwo(plane, "workloads")
    assert "table-demo" in aiwo(plane, "describe", "workload", "table-demo")
    assert "node-1" in aiwo(plane, "describe", "node", "node-1")
    assert "table-demo" in aiwo(plane, "explain", "table-demo")
    described = json.loads(aiwo(plane, "describe", "node", "node-1", "-o", "json"))
    assert described["node"]["name"] == "node-1"
    assert "cordoned (maintenance)" in aiwo(plane, "cordon", "node-1", "--reason", "maintenance")
    [node] = json.loads(aiwo(plane, "nodes", "-o", "json"))
    assert node["cordoned"] is True
    assert "uncordoned" in aiwo(plane, "uncordon", "node-1")
    frame = aiwo(plane, "top", "--once")
    assert "nodes 1/1 ready" in frame and "table-demo" in frame
    assert "deregistered" in aiwo(plane, "deregister", "table-demo")
    assert "controller:" in aiwo(plane, "info")


def test_state_dir_cluster_file_is_found(plane: LocalControlPlane, tmp_path: Path) -> None:
    (tmp_path / "cluster.json").write_text(json.dumps({"controller": plane.address}))
    env = {k: v for k, v in os.environ.items() if k != "AIWO_CONTROLLER"}
    env["AIWO_STATE_DIR"] = str(tmp_path)
    result = subprocess.run(
        [*AIWO, "nodes", "-o", "json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["name"] == "node-1"


def test_bad_input_is_one_line_naming_the_field(plane: LocalControlPlane) -> None:
    result = subprocess.run(
        [*AIWO, "--controller", plane.address, "register", "Bad_Name"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("aiwo: name: ")


@pytest.mark.parametrize(
    "args",
    [
        ["nodes"],
        ["gpus", "-o", "json"],
        ["workloads", "-A"],
        ["events"],
        ["describe", "node", "n1"],
        ["describe", "workload", "w1"],
        ["explain", "w1"],
        ["cordon", "n1"],
        ["uncordon", "n1"],
        ["top", "--once"],
        ["register", "w1"],
        ["deregister", "w1"],
        ["info"],
    ],
)
def test_dead_controller_is_one_line_and_exit_1(args: list[str]) -> None:
    target = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        [*AIWO, "--controller", target, *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        result.stderr
        == f"aiwo: cannot reach the aiwo controller at {target} (connection refused)\n"
    )


def test_no_controller_anywhere_says_how_to_get_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AIWO_CONTROLLER"}
    env["AIWO_STATE_DIR"] = str(tmp_path)  # no cluster.json: the default address
    result = subprocess.run([*AIWO, "nodes"], env=env, capture_output=True, text=True, timeout=60)
    if result.returncode == 0:
        pytest.skip("something is listening on the default controller port")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "`aiwo up`" in result.stderr


def test_bench_hands_over_to_aiwo_bench(tmp_path: Path) -> None:
    stub = tmp_path / "aiwo-bench"
    stub.write_text('#!/bin/sh\necho "bench got: $*"\n')
    stub.chmod(0o755)
    env = {**os.environ, "AIWO_BENCH": str(stub)}
    result = subprocess.run(
        [*AIWO, "bench", "placement", "--trace", "x.csv", "--help"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "bench got: placement --trace x.csv --help\n"


def test_unknown_priority_is_reported_before_connecting() -> None:
    target = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        [*AIWO, "--controller", target, "register", "w1", "--priority", "urgent"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("aiwo: spec.priority_class: unknown class 'urgent'")
