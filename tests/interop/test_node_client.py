"""A non-Python client against a real controller: Node with @grpc/grpc-js and
@grpc/proto-loader, the protos loaded from proto/ (tests/interop/client.js).

Runs where `node` and the two packages are present (`make interop-deps` installs them into
.venv/node-interop; $AIWO_NODE_MODULES names another node_modules); skips, saying which is
missing, where they are not."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk import NodeState, SyncAdminClient
from tests.e2e.cluster_helpers import wait_for
from tests.helpers import EtcdMember
from tests.sdk.processes import LocalControlPlane, control_plane

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = Path(os.environ.get("AIWO_NODE_MODULES", ROOT / ".venv/node-interop/node_modules"))


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (apt-get install nodejs npm)")
    for package in ("@grpc/grpc-js", "@grpc/proto-loader"):
        if not (NODE_MODULES / package / "package.json").exists():
            pytest.skip(f"{package} is not in {NODE_MODULES} (`make interop-deps` installs it)")
    return node


@pytest.fixture(scope="module")
def plane(
    etcd: EtcdMember, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalControlPlane]:
    _node()  # skip before a controller is started for nothing
    with control_plane(etcd, tmp_path_factory.mktemp("interop")) as running:
        running.start_agent("node-1", gpus=2)
        yield running


def test_node_registers_a_workload_and_lists_nodes(plane: LocalControlPlane) -> None:
    node = _node()
    with SyncAdminClient.connect(plane.address) as admin:
        wait_for(
            lambda: any(n.state == NodeState.READY for n in admin.list_nodes()),
            30,
            "node-1 not ready",
        )
    result = subprocess.run(
        [node, str(Path(__file__).with_name("client.js")), plane.address, str(ROOT / "proto"),
         "from-node"],
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["registered"]["name"] == "from-node" and reply["registered"]["uid"]
    assert reply["registered"]["priority"] > 0  # "high" resolved by the controller
    assert reply["nodes"] == [{"name": "node-1", "state": "NODE_STATE_READY", "gpus": 2}]
    assert reply["bad"]["code"] == "INVALID_ARGUMENT"
    assert reply["bad"]["details"].startswith("name:")
    with SyncAdminClient.connect(plane.address) as admin:
        names = [w.name for w in admin.list_workloads("default")]
    assert "from-node" in names


def documented_js_examples() -> list[str]:
    """Every ```js block of docs/clients.md, in order."""
    text = (ROOT / "docs/clients.md").read_text()
    return re.findall(r"```js\n(.*?)```", text, re.S)


def test_the_documented_node_examples_work_as_written(plane: LocalControlPlane) -> None:
    """docs/clients.md's snippets, pasted into a file and run from the repository root (their
    include path is "proto"), with only the controller's address changed."""
    node = _node()
    admin_example, serving_example = documented_js_examples()
    outputs = []
    for example in (admin_example, serving_example):
        script = plane.address.join(example.split("127.0.0.1:7070"))
        result = subprocess.run(
            [node, "-e", script], cwd=ROOT, env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0 and not result.stderr, result.stderr
        outputs.append(result.stdout)
    assert "name: 'node-1'" in outputs[0]
    assert outputs[1].splitlines() == ["default/chat: desired 1", "pinned at 2", "range 1-3"]
    with SyncAdminClient.connect(plane.address) as admin:
        service = admin.get_service("chat", "default")
        # The update changed only what it named: max and TTFT; min, TPOT and the pin stay.
        assert (service.spec.min_replicas, service.spec.max_replicas, service.pinned) == (1, 3, 2)
        slo = service.spec.template.slo
        assert slo is not None and (slo.ttft_ms, slo.tpot_ms) == (1500.0, 100.0)
        assert service.spec.template.launch is not None
        assert service.spec.template.launch.command == ("python", "-m", "sdk.examples.llm_server")
        admin.delete_service("chat", "default")
