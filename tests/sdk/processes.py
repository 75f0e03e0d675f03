"""The real controller and agents as subprocesses, for SDK and CLI integration tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import EtcdMember

BIN = Path(sys.executable).parent


def _program(name: str, module: str) -> list[str]:
    script = BIN / name
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


@dataclass
class LocalControlPlane:
    address: str
    metrics: str
    logs: Path
    controller: subprocess.Popen[bytes]
    argv: list[str]
    agents: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: int = 0

    def restart_controller(self) -> None:
        """Stop the controller and start a new one on the same address and etcd prefix."""
        stop_process(self.controller)
        self.restarts += 1
        argv = [*self.argv]
        argv[argv.index("--listen") + 1] = self.address
        self.controller, _ = _start_controller(argv, self.logs, f"controller-{self.restarts}")

    def log(self, name: str = "controller") -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def start_agent(self, node: str, gpus: int = 8, model: str = "H100") -> None:
        self.agents[node] = _spawn(
            [
                *_program("aiwo-agent", "nodeagent.main"),
                "--controller", self.address,
                "--node", node,
                "--backend", "sim",
                "--sim-gpu-model", model,
                "--sim-gpus", str(gpus),
                "--cpu-milli", "64000",
                "--memory-mib", "262144",
                "--telemetry-interval-s", "0.5",
                "--state-dir", str(self.logs / node),
            ],
            self.logs / f"{node}.log",
        )  # fmt: skip


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped with everything it spawned
        )  # fmt: skip


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _start_controller(
    argv: list[str], logs: Path, name: str
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    ready = logs / f"{name}.ready.json"
    ready.unlink(missing_ok=True)
    controller = _spawn([*argv, "--ready-file", str(ready)], logs / f"{name}.log")
    deadline = time.monotonic() + 30
    while not ready.exists() or not ready.read_text().strip():
        if controller.poll() is not None:
            raise RuntimeError((logs / f"{name}.log").read_text(errors="replace"))
        if time.monotonic() > deadline:
            stop_process(controller)
            raise RuntimeError("the controller did not write its ready file in 30s")
        time.sleep(0.05)
    return controller, json.loads(ready.read_text())


@contextmanager
def control_plane(
    etcd: EtcdMember, logs: Path, prefix: str | None = None, listen: str = "127.0.0.1:0"
) -> Iterator[LocalControlPlane]:
    """A controller against `etcd` under a fresh prefix (port 0 unless `listen` says);
    stopped, with its agents, on exit."""
    logs.mkdir(parents=True, exist_ok=True)
    argv = [
        *_program("aiwo-controller", "controlplane.app.main"),
        "--listen", listen,
        "--etcd-endpoints", etcd.endpoint,
        "--etcd-prefix", prefix or f"/aiwo-sdk-test/{uuid.uuid4().hex[:12]}/v1",
        "--metrics-listen", "127.0.0.1:0",
    ]  # fmt: skip
    controller, info = _start_controller(argv, logs, "controller")
    plane = LocalControlPlane(info["address"], info.get("metrics", ""), logs, controller, argv)
    try:
        yield plane
    finally:
        for agent in plane.agents.values():
            stop_process(agent)
        stop_process(plane.controller)
