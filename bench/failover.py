"""aiwo-bench failover: how long the control plane is without a leader, and how long a
silent node goes unnoticed, measured on a local cluster of real processes.

    aiwo-bench failover --runs 10 --detect-runs 10 -o json

Failover: `kill -9` the leading controller; the clock runs until another replica reports
itself leader (elected) and until a write through the survivors succeeds (serving: a
cordon or uncordon, a fenced etcd write). The killed replica is started again, as a
follower, before the next run; the next run kills the new leader.

Detection: SIGSTOP an agent (its sockets stay open, so only the heartbeat grace can tell);
the clock runs until the controller reports the node NotReady. The agent is resumed and
must be Ready again before the next run.

Each figure is polled every POLL_S, so it is late by at most that much.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import grpc

from bench.options import leader_lease_option, output_option
from sdk.cli.local_cluster import ClusterSpec, LocalCluster
from sdk.pb.aiwo.v1 import admin_pb2, admin_pb2_grpc, types_pb2

POLL_S = 0.02
CALL_TIMEOUT_S = 0.5
NODE = "node-1"


@dataclass(frozen=True)
class Settings:
    runs: int
    detect_runs: int
    controllers: int
    etcd_members: int
    leader_lease_s: int
    node_grace_s: float


class Probe:
    """Blocking admin stubs to every controller replica, with short timeouts."""

    def __init__(self, addresses: list[str]) -> None:
        self.channels = {a: grpc.insecure_channel(a) for a in addresses}
        self.stubs = {a: admin_pb2_grpc.AdminServiceStub(c) for a, c in self.channels.items()}

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()

    def leader(self, among: list[str]) -> str | None:
        for address in among:
            try:
                info = self.stubs[address].ClusterInfo(
                    admin_pb2.ClusterInfoRequest(), timeout=CALL_TIMEOUT_S
                )
            except grpc.RpcError:
                continue
            if info.leader:
                return address
        return None

    def write(self, among: list[str], cordon: bool) -> bool:
        """One fenced write through any of `among` (followers forward it to the leader)."""
        request = admin_pb2.CordonRequest(name=NODE, reason="aiwo-bench failover")
        for address in among:
            stub = self.stubs[address]
            try:
                (stub.Cordon if cordon else stub.Uncordon)(request, timeout=CALL_TIMEOUT_S)
                return True
            except grpc.RpcError:
                continue
        return False

    def node_state(self, among: list[str]) -> int | None:
        for address in among:
            try:
                node = self.stubs[address].GetNode(
                    admin_pb2.GetNodeRequest(name=NODE), timeout=CALL_TIMEOUT_S
                )
            except grpc.RpcError:
                continue
            return int(node.state)
        return None


def _until(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds until `check()` holds, polled every POLL_S."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            raise click.ClickException(f"{what} did not happen within {timeout_s:g} s")
        time.sleep(POLL_S)
    return time.monotonic() - start


def _cluster(settings: Settings, state_dir: Path) -> LocalCluster:
    spec = ClusterSpec(
        state_dir,
        nodes=1,
        gpus_per_node=2,
        controllers=settings.controllers,
        etcd_members=settings.etcd_members,
        controller_args=(
            "--leader-lease-s", str(settings.leader_lease_s),
            "--node-grace-s", str(settings.node_grace_s),
            "--eviction-grace-s", "3600",  # measure detection only: nothing is evicted
            "--rate-limit-rps", "0",  # the probes poll every 20 ms from one address
        ),
        agent_args=("--fence-after-s", "0"),
        default_ports=False,
    )  # fmt: skip
    return LocalCluster(spec)


def measure_failover(cluster: LocalCluster, probe: Probe, runs: int) -> list[dict[str, float]]:
    by_address = {p.address: p.name for p in cluster.procs if p.role == "controller"}
    results = []
    for run in range(runs):
        elected, serving = _one_failover(cluster, probe, by_address, cordon=run % 2 == 1)
        results.append({"elected_s": round(elected, 3), "serving_s": round(serving, 3)})
        click.echo(
            f"failover {run + 1}/{runs}: elected {elected:.2f} s, serving {serving:.2f} s",
            err=True,
        )
    return results


def _one_failover(
    cluster: LocalCluster, probe: Probe, by_address: dict[str, str], cordon: bool
) -> tuple[float, float]:
    addresses = list(by_address)
    _until(lambda: probe.leader(addresses) is not None, 30, "a leader")
    old = probe.leader(addresses)
    assert old is not None
    survivors = [a for a in addresses if a != old]
    # The after-write flips the cordon, so that it is a real (fenced) etcd write.
    _until(lambda: probe.write(survivors, cordon=not cordon), 30, "a write before")
    cluster.kill(by_address[old])
    killed = time.monotonic()
    elected = _until(lambda: probe.leader(survivors) is not None, 60, "a new leader")
    _until(lambda: probe.write(survivors, cordon=cordon), 60, "a write after")
    serving = time.monotonic() - killed
    cluster.respawn(by_address[old])
    _until(lambda: _answers(probe, old), 30, "the restarted replica")  # back, as a follower
    return elected, serving


def _answers(probe: Probe, address: str) -> bool:
    try:
        probe.stubs[address].ClusterInfo(admin_pb2.ClusterInfoRequest(), timeout=CALL_TIMEOUT_S)
    except grpc.RpcError:
        return False
    return True


def measure_detection(
    cluster: LocalCluster, probe: Probe, runs: int, grace_s: float
) -> list[dict[str, float]]:
    addresses = [p.address for p in cluster.procs if p.role == "controller"]
    ready, not_ready = int(types_pb2.NODE_STATE_READY), int(types_pb2.NODE_STATE_NOT_READY)
    results = []
    for run in range(runs):
        _until(lambda: probe.node_state(addresses) == ready, 60, f"{NODE} Ready")
        cluster.kill(NODE, signal.SIGSTOP)
        try:
            detected = _until(
                lambda: probe.node_state(addresses) == not_ready, grace_s + 60, "NotReady"
            )
        finally:
            cluster.kill(NODE, signal.SIGCONT)
        recovered = _until(lambda: probe.node_state(addresses) == ready, 60, "Ready again")
        results.append({"detected_s": round(detected, 3), "ready_again_s": round(recovered, 3)})
        click.echo(f"detection {run + 1}/{runs}: NotReady after {detected:.2f} s, Ready "
                   f"{recovered:.2f} s after resuming", err=True)  # fmt: skip
    return results


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "median": round(statistics.median(values), 3),
        "worst": round(max(values), 3),
        "best": round(min(values), 3),
    }


def _machine() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def run(settings: Settings) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="aiwo-bench-failover-") as tmp:
        cluster = _cluster(settings, Path(tmp) / "state")
        cluster.start()
        probe = Probe([p.address for p in cluster.procs if p.role == "controller"])
        try:
            failover = measure_failover(cluster, probe, settings.runs)
            detection = measure_detection(
                cluster, probe, settings.detect_runs, settings.node_grace_s
            )
        finally:
            probe.close()
            cluster.stop(grace_s=3)
    return {
        "settings": {
            "controllers": settings.controllers,
            "etcd_members": settings.etcd_members,
            "leader_lease_s": settings.leader_lease_s,
            "node_grace_s": settings.node_grace_s,
            "poll_s": POLL_S,
        },
        "failover": {
            "runs": failover,
            "elected_s": _summary([r["elected_s"] for r in failover]),
            "serving_s": _summary([r["serving_s"] for r in failover]),
        },
        "detection": {
            "runs": detection,
            "detected_s": _summary([r["detected_s"] for r in detection]),
            "ready_again_s": _summary([r["ready_again_s"] for r in detection]),
        },
        "machine": _machine(),
    }


@click.command("failover")
@click.option(
    "--runs",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Leader kills (kill -9) to time.",
)
@click.option(
    "--detect-runs",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Agent pauses (SIGSTOP) to time.",
)
@click.option("--controllers", type=click.IntRange(min=2), default=2, show_default=True)
@click.option("--etcd-members", type=click.IntRange(min=1), default=3, show_default=True)
@leader_lease_option
@click.option(
    "--node-grace-s",
    type=click.FloatRange(min=0.5),
    default=10.0,
    show_default=True,
    help="The controller's default.",
)
@output_option
def failover(
    runs: int,
    detect_runs: int,
    controllers: int,
    etcd_members: int,
    leader_lease_s: int,
    node_grace_s: float,
    output: str,
) -> None:
    """Leader failover and node-failure detection times on a local cluster of processes."""
    settings = Settings(runs, detect_runs, controllers, etcd_members, leader_lease_s,
                        node_grace_s)  # fmt: skip
    result = run(settings)
    if output == "json":
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(
        f"{controllers} controllers, {etcd_members} etcd members, lease {leader_lease_s} s, "
        f"node grace {node_grace_s:g} s"
    )
    rows = [
        ("leader kill -9 -> new leader elected", result["failover"]["elected_s"], runs),  # type: ignore[index]
        ("leader kill -9 -> writes served", result["failover"]["serving_s"], runs),  # type: ignore[index]
        ("agent silent -> node NotReady", result["detection"]["detected_s"], detect_runs),  # type: ignore[index]
        ("agent resumed -> node Ready", result["detection"]["ready_again_s"], detect_runs),  # type: ignore[index]
    ]
    for name, summary, n in rows:
        if summary:
            click.echo(f"  {name:<40} median {summary['median']:6.2f} s  "
                       f"worst {summary['worst']:6.2f} s  ({n} runs)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(failover())
