"""`aiwo-bench controlplane`: how fast the real controller ingests telemetry and places work.

A real etcd member and a real aiwo-controller process (as `aiwo up` starts them); load comes
from this process over real gRPC streams:

- ingest: N agents each stream telemetry reports (8 GPUs per report) as fast as the stream
  takes them for D seconds; the figure is reports/s and GPU samples/s the controller accepted,
  read from its own counter (aiwo_stream_messages_total), not from what was sent.
- placement: K workloads registered one after another on a cluster of those N nodes; the
  figure is register -> placed latency (the SDK's wait_placed), median and p99.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import click
import grpc

from bench.options import output_option
from bench.scale.probes import placed_one_by_one
from sdk.cli.local_cluster import ClusterSpec, LocalCluster
from sdk.pb.aiwo.v1 import node_pb2, node_pb2_grpc, types_pb2

GPUS_PER_NODE = 8


def _node_info(name: str) -> types_pb2.NodeInfo:
    return types_pb2.NodeInfo(
        name=name,
        cpu_milli=96_000,
        memory_mib=1 << 20,
        gpus=[
            types_pb2.GpuInfo(
                index=i, model="H100", memory_total_mib=81559,
                power_limit_min_w=200, power_limit_max_w=700, power_limit_default_w=700,
            )
            for i in range(GPUS_PER_NODE)
        ],
        gpu_backend=types_pb2.GpuBackend(kind="sim", status=types_pb2.GPU_BACKEND_STATUS_OK),
        capabilities=["clock-lock", "power-limit"],
    )  # fmt: skip


def _report() -> node_pb2.AgentMessage:
    return node_pb2.AgentMessage(
        telemetry=node_pb2.TelemetryReport(
            time_unix=time.time(),
            gpus=[
                types_pb2.GpuSample(index=i, utilization_pct=50, memory_used_mib=1000,
                                    power_w=400, power_limit_w=700, temperature_c=60,
                                    sm_clock_mhz=1800)
                for i in range(GPUS_PER_NODE)
            ],
        )
    )  # fmt: skip


async def _agent(address: str, name: str, stop: asyncio.Event, ready: asyncio.Event) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = node_pb2_grpc.NodeServiceStub(channel)
        await stub.Register(node_pb2.RegisterNodeRequest(node=_node_info(name)), timeout=10)
        call = stub.Connect()
        await call.write(node_pb2.AgentMessage(hello=node_pb2.AgentHello(node=name)))
        ready.set()

        async def drain() -> None:
            async for _ in call:  # commands and heartbeats: read so the stream keeps flowing
                pass

        reader = asyncio.create_task(drain())
        report = _report()
        while not stop.is_set():
            await call.write(report)
        await call.done_writing()
        reader.cancel()


def _ingested(metrics: str) -> float:
    body = urllib.request.urlopen(f"http://{metrics}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith('aiwo_stream_messages_total{kind="telemetry",stream="agent"}'):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def _run(address: str, metrics: str, nodes: int, seconds: float, workloads: int) -> dict:
    stop = asyncio.Event()
    readies = [asyncio.Event() for _ in range(nodes)]
    agents = [
        asyncio.create_task(_agent(address, f"bench-{i}", stop, readies[i])) for i in range(nodes)
    ]
    await asyncio.gather(*(r.wait() for r in readies))
    await asyncio.sleep(1.0)
    before, start = await asyncio.to_thread(_ingested, metrics), time.monotonic()
    await asyncio.sleep(seconds)
    after, elapsed = await asyncio.to_thread(_ingested, metrics), time.monotonic() - start
    stop.set()
    await asyncio.gather(*agents, return_exceptions=True)
    reports_per_s = (after - before) / elapsed

    # Placement latency, with the agents quiet (stop their load first: one figure at a time).
    names = (f"bench-{i}" for i in range(workloads))
    latencies = sorted(await placed_one_by_one(address, names, "bench", timeout_s=30))
    return {
        "nodes": nodes,
        "ingest": {
            "seconds": round(elapsed, 2),
            "reports_per_s": round(reports_per_s, 1),
            "gpu_samples_per_s": round(reports_per_s * GPUS_PER_NODE, 1),
        },
        "placement_ms": {
            "workloads": workloads,
            "median": round(statistics.median(latencies), 1),
            "p99": round(latencies[max(0, int(0.99 * len(latencies)) - 1)], 1),
            "max": round(latencies[-1], 1),
        },
    }


@click.command("controlplane")
@click.option("--nodes", default=16, show_default=True, help="Synthetic agents streaming.")
@click.option("--seconds", default=10.0, show_default=True, help="Ingest measurement window.")
@click.option("--workloads", default=50, show_default=True, help="Placements to time.")
@output_option
def controlplane(nodes: int, seconds: float, workloads: int, output: str) -> None:
    """Telemetry ingestion rate and register->placed latency of a real controller."""
    state = Path(tempfile.mkdtemp(prefix="aiwo-bench-cp-"))
    # The ingest figure is how fast the controller takes reports in from streams sent as
    # fast as they go: lift the per-stream telemetry budget that would drop a flood.
    spec = ClusterSpec(
        state,
        nodes=0,
        default_ports=False,
        controller_args=("--telemetry-burst-factor", "1000000"),
    )
    cluster = LocalCluster(spec)
    cluster.start()
    try:
        result = asyncio.run(
            _run(cluster.controller_address, cluster.metrics_address, nodes, seconds, workloads)
        )
    finally:
        cluster.stop()
    if output == "json":
        click.echo(json.dumps(result, indent=2))
        return
    ingest, placed = result["ingest"], result["placement_ms"]
    click.echo(
        f"ingest: {ingest['reports_per_s']} reports/s "
        f"({ingest['gpu_samples_per_s']} GPU samples/s) "
        f"from {nodes} streams over {ingest['seconds']} s\n"
        f"placement: median {placed['median']} ms, p99 {placed['p99']} ms, "
        f"max {placed['max']} ms over {placed['workloads']} workloads"
    )
