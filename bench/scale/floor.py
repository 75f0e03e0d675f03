"""What gRPC alone costs per telemetry report: the floor under the controller's figure.

    python -m bench.scale.floor --nodes 1000 --seconds 20 [--heartbeat-s 2] [-o json]

A server process with one bidirectional `NodeService.Connect` servicer that only reads the
messages (and, with `--heartbeat-s`, writes a heartbeat down every that many seconds, as the
controller does when it has nothing else to send), on uvloop as the controller runs; a client
process with `--nodes` streams, each sending an 8-GPU report like the scale swarm's every
second. The figure is the server's process CPU (user + system, /proc) per report, over
`--seconds` of steady state: no validation, no ring, no runtime pass, no metrics. A
controller in one process cannot ingest a report for less than this.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import time
from multiprocessing.connection import Connection
from typing import Any

import click
import grpc
import uvloop

from bench.options import output_option
from bench.scale.probes import cpu_s
from bench.scale.swarm import report
from sdk.pb.aiwo.v1 import node_pb2, node_pb2_grpc

WARMUP_S = 8.0


class _Reader(node_pb2_grpc.NodeServiceServicer):
    def __init__(self, heartbeat_s: float) -> None:
        self.heartbeat_s = heartbeat_s

    async def Connect(self, request_iterator: object, context: grpc.aio.ServicerContext) -> None:
        async def read() -> None:
            while True:
                message = await context.read()
                if message is grpc.aio.EOF:
                    return
                message.WhichOneof("body")

        if self.heartbeat_s <= 0:
            await read()
            return
        reader = asyncio.create_task(read())
        while not reader.done():
            await asyncio.wait([reader], timeout=self.heartbeat_s)
            if not reader.done():
                await context.write(node_pb2.ControllerMessage(heartbeat_unix=time.time()))


def _serve(heartbeat_s: float, ready: Connection) -> None:
    async def main() -> None:
        server = grpc.aio.server()
        node_pb2_grpc.add_NodeServiceServicer_to_server(_Reader(heartbeat_s), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        ready.send(port)
        await server.wait_for_termination()

    uvloop.install()
    asyncio.run(main())


def _clients(port: int, nodes: int, period_s: float, seconds: float) -> None:
    async def one(rng: random.Random, until: float) -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = node_pb2_grpc.NodeServiceStub(channel).Connect()
            await asyncio.sleep(rng.uniform(0, period_s))
            due = time.monotonic()
            while time.monotonic() < until:
                await call.write(report(8, rng))
                due += period_s
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            await call.done_writing()

    async def main() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(one(random.Random(i), until) for i in range(nodes)))

    uvloop.install()
    asyncio.run(main())


def run(nodes: int, seconds: float, heartbeat_s: float, period_s: float = 1.0) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=_serve, args=(heartbeat_s, child), daemon=True)
    server.start()
    port = parent.recv()
    clients = context.Process(
        target=_clients, args=(port, nodes, period_s, WARMUP_S + seconds + 5), daemon=True
    )
    clients.start()
    try:
        time.sleep(WARMUP_S)
        cpu0, t0 = cpu_s(server.pid or 0), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = cpu_s(server.pid or 0), time.monotonic()
    finally:
        clients.kill()
        server.kill()
    rate = (cpu1 - cpu0) / (t1 - t0)
    with open("/proc/loadavg") as f:
        loadavg = f.read().split()[:3]
    return {
        "nodes": nodes,
        "period_s": period_s,
        "heartbeat_s": heartbeat_s,
        "server_cpu_s_per_s": round(rate, 3),
        "us_per_report": round(rate / (nodes / period_s) * 1e6, 1),
        "loadavg": loadavg,
    }


@click.command()
@click.option("--nodes", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--seconds", type=click.FloatRange(min=1), default=20.0, show_default=True)
@click.option(
    "--heartbeat-s",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="A heartbeat written down each stream this often (0: none).",
)
@output_option
def main(nodes: int, seconds: float, heartbeat_s: float, output: str) -> None:
    """Server CPU per report of gRPC streams that only read."""
    result = run(nodes, seconds, heartbeat_s)
    if output == "json":
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(
        f"{nodes} streams, heartbeat {heartbeat_s:g} s: {result['server_cpu_s_per_s']} CPU s/s, "
        f"{result['us_per_report']} us per report (load {' '.join(result['loadavg'])})"
    )


if __name__ == "__main__":
    main()
