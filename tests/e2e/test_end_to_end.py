"""End to end with real processes: controller + 2 agents, the SDK, the admin API, a kill."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk import AdminClient, Client, NodeState, Resources
from tests.helpers import EtcdMember, assert_eventually

BIN = Path(sys.executable).parent


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "wb")  # closed with the process
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def cluster(etcd: EtcdMember, etcd_prefix: str, tmp_path: Path) -> Iterator[dict[str, object]]:
    ready = tmp_path / "ready.json"
    controller = _spawn(
        [
            str(BIN / "aiwo-controller"),
            "--listen", "127.0.0.1:0",
            "--etcd-endpoints", etcd.endpoint,
            "--etcd-prefix", etcd_prefix,
            "--metrics-listen", "127.0.0.1:0",
            "--node-grace-s", "2",
            "--ready-file", str(ready),
        ],
        tmp_path / "controller.log",
    )  # fmt: skip
    procs = [controller]
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert controller.poll() is None, (tmp_path / "controller.log").read_text()
            assert time.monotonic() < deadline, "controller not ready"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        agents = {}
        for node in ("node-a", "node-b"):
            agents[node] = _spawn(
                [
                    str(BIN / "aiwo-agent"),
                    "--controller", info["address"],
                    "--node", node,
                    "--backend", "sim",
                    "--sim-gpu-model", "A100-80GB",
                    "--sim-gpus", "4",
                    "--cpu-milli", "64000",
                    "--memory-mib", "262144",
                    "--telemetry-interval-s", "0.5",
                    "--state-dir", str(tmp_path / node),
                ],
                tmp_path / f"{node}.log",
            )  # fmt: skip
            procs.append(agents[node])
        yield {
            "address": info["address"],
            "metrics": info["metrics"],
            "agents": agents,
            "logs": tmp_path,
        }
    finally:
        for proc in reversed(procs):
            _stop(proc)


async def test_register_place_observe_and_lose_a_node(cluster: dict[str, object]) -> None:
    address = str(cluster["address"])
    admin = await AdminClient.connect(address)
    client = await Client.connect(address)
    try:

        async def both_ready() -> bool:
            nodes = await admin.list_nodes()
            return len(nodes) == 2 and all(n.state == NodeState.READY for n in nodes)

        await assert_eventually(both_ready, timeout_s=20, message="agents not registered")

        handle = await client.register(
            "inference", priority="high", resources=Resources(gpus=1, milli_gpu=500)
        )
        placement = await handle.wait_placed(timeout=10)
        assert placement.node in ("node-a", "node-b") and len(placement.gpus) == 1

        async def loaded_gpu_visible() -> bool:
            gpus = await admin.list_gpus(placement.node)
            gpu = next(g for g in gpus if g.index == placement.gpus[0])
            return gpu.sample_unix > 0 and gpu.utilization_pct > 0 and gpu.power_w > 0

        await assert_eventually(loaded_gpu_visible, timeout_s=10, message="telemetry not visible")
        gpus = await admin.list_gpus()
        assert len(gpus) == 8 and {g.model for g in gpus} == {"A100-80GB"}

        agents = cluster["agents"]
        assert isinstance(agents, dict)
        victim = agents[placement.node]
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()

        async def victim_not_ready() -> bool:
            node = await admin.get_node(placement.node)
            return node.state == NodeState.NOT_READY

        await assert_eventually(victim_not_ready, timeout_s=15, message="node not NotReady")
        other = next(n for n in await admin.list_nodes() if n.name != placement.node)
        assert other.state == NodeState.READY
    finally:
        await client.close()
        await admin.close()


async def test_metrics_health_and_reflection(cluster: dict[str, object]) -> None:
    import urllib.request

    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
    from prometheus_client.parser import text_string_to_metric_families

    address = str(cluster["address"])
    admin = await AdminClient.connect(address)
    try:

        async def gpus_reported() -> bool:
            gpus = await admin.list_gpus()
            return len(gpus) == 8 and all(g.sample_unix > 0 for g in gpus)

        await assert_eventually(gpus_reported, timeout_s=20)
    finally:
        await admin.close()
    url = f"http://{cluster['metrics']}/metrics"
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    for name in (
        "aiwo_gpu_power_watts",
        "aiwo_gpu_temperature_celsius",
        "aiwo_gpu_memory_used_bytes",
        'aiwo_nodes{state="ready"} 2.0',
        "aiwo_rpc_duration_seconds_bucket",
    ):
        assert name in body, name
    families = {f.name: f for f in text_string_to_metric_families(body)}
    # Every GPU series names its GPU by uuid and model too (the join with dcgm-exporter).
    [utilization] = [
        s
        for s in families["aiwo_gpu_utilization_ratio"].samples
        if s.labels["node"] == "node-a" and s.labels["gpu"] == "0"
    ]
    assert utilization.labels["uuid"] and utilization.labels["model"]
    totals = families["aiwo_gpu_memory_total_bytes"].samples
    assert len(totals) == 8 and all(s.value > 0 for s in totals)
    assert len(families["aiwo_gpu_allocated_ratio"].samples) == 8
    # Energy is a counter (exposed as _total); RPC latency is by service, without probes.
    assert families["aiwo_workload_energy_joules"].type == "counter"
    rpc = families["aiwo_rpc_duration_seconds"].samples
    assert {"service", "method", "code"} <= set(rpc[0].labels)
    assert "AdminService" in {s.labels["service"] for s in rpc}
    assert "Health" not in {s.labels["service"] for s in rpc}

    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service="aiwo.v1.AdminService"))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        async for response in responses:
            names = {s.name for s in response.list_services_response.service}
            assert {"aiwo.v1.NodeService", "aiwo.v1.WorkloadService"} <= names
            break


async def test_agents_reregister_after_a_controller_restart(
    cluster: dict[str, object], etcd: EtcdMember, etcd_prefix: str
) -> None:
    """The controller dies and comes back on the same address; agents find it again."""
    address = str(cluster["address"])
    admin = await AdminClient.connect(address)
    try:

        async def both_streaming() -> bool:
            # READY alone follows Register; fresh samples mean each agent's stream is open.
            nodes = await admin.list_nodes()
            gpus = await admin.list_gpus()
            return (
                len(nodes) == 2
                and all(n.state == NodeState.READY for n in nodes)
                and bool(gpus)
                and all(g.sample_unix > time.time() - 2 for g in gpus)
            )

        await assert_eventually(both_streaming, timeout_s=20)
    finally:
        await admin.close()
    logs = cluster["logs"]
    assert isinstance(logs, Path)
    before_kill = (logs / "node-a.log").stat().st_size
    ready = logs / "ready.json"
    controller_pid = json.loads(ready.read_text())["pid"]
    os.kill(controller_pid, signal.SIGKILL)
    await asyncio.sleep(0.5)
    ready.unlink()
    restarted = _spawn(
        [
            str(BIN / "aiwo-controller"),
            "--listen", address,
            "--etcd-endpoints", etcd.endpoint,
            "--etcd-prefix", etcd_prefix,
            "--metrics-listen", "",
            "--ready-file", str(ready),
        ],
        logs / "controller-2.log",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert restarted.poll() is None and time.monotonic() < deadline
            await asyncio.sleep(0.05)
        admin = await AdminClient.connect(address)
        try:

            async def reconnected() -> bool:
                info = await admin.cluster_info()
                nodes = await admin.list_nodes()
                return (
                    info.leader
                    and all(n.state == NodeState.READY for n in nodes)
                    and all(g.sample_unix > time.time() - 2 for g in await admin.list_gpus())
                )

            await assert_eventually(
                reconnected, timeout_s=30, interval_s=0.3, message="agents did not come back"
            )
        finally:
            await admin.close()
        after_kill = (logs / "node-a.log").read_bytes()[before_kill:]
        assert b"agent_connected" in after_kill, "node-a never connected to the new controller"
    finally:
        _stop(restarted)
