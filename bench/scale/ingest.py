"""The controller's per-report ingestion path in process, stage by stage, in CPU time.

    python -m bench.scale.ingest [--reports 20000] [--repeats 5] [--gpus 8] \
        [--nodes 1000] [-o json]

What `NodeService._read` does with one telemetry report after gRPC has handed over its bytes:
parse (the deserializer gRPC calls), the stream's bookkeeping (message counter, heartbeat,
pacer), validation, the ring write, the GPU-health check and the accepted counter. Each stage
runs `--reports` times over reports like the scale bench's swarm sends (8 GPUs, random
values); the figure is process CPU time (not wall) per report, median and spread over
`--repeats`, so it holds on a loaded machine. What it leaves out (gRPC's receive, the event
loop, the stream's writes) is the difference to `aiwo-bench scale`'s controller CPU.

The runtime pass is per node too: one pass over `--nodes` Ready nodes with fresh telemetry
(`build_runtime_snapshot`, then the pure `plan_runtime`), divided by the nodes and by the
default runtime period (2 s), is its cost per node-second, i.e. per report at 1 Hz. It is
measured twice: at start-up, when every idle GPU still reports its default power limit (each
pass proposes a cap for each, and the action budget defers most), and in the steady state,
once the caps are applied and reported. `total` counts the steady state.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any, cast

import click

from bench.options import output_option
from bench.scale.swarm import apply_setting, node_info, report
from controlplane.app.config import ControllerConfig
from controlplane.etcd.keys import Keys
from controlplane.leader.runtime_loop import GpuInventory, agent_command, build_runtime_snapshot
from controlplane.optimizer.runtime import RuntimeConfig, RuntimeMemory, plan_runtime
from controlplane.rpc.admission import TelemetryPacer
from controlplane.rpc.node import ACCEPTED_OK, _received
from controlplane.rpc.validation import check_telemetry
from controlplane.view.cluster import ClusterState, Liveness
from controlplane.view.telemetry import TelemetryStore
from sdk.pb.aiwo.v1 import node_pb2, types_pb2

RUNTIME_INTERVAL_S = ControllerConfig().runtime_interval_s


def _cpu_us(run: Callable[[], None], count: int) -> float:
    started = time.process_time()
    run()
    return (time.process_time() - started) / count * 1e6


def measure(reports: int, gpus: int) -> dict[str, float]:
    """CPU microseconds per report of each stage, one pass of `reports` reports."""
    rng = random.Random(1)
    # A pool of distinct reports, reused round-robin (building one costs more than ingesting).
    blobs = [report(gpus, rng).SerializeToString() for _ in range(256)]
    wire = [blobs[i % len(blobs)] for i in range(reports)]
    parse = node_pb2.AgentMessage.FromString
    messages = [parse(b) for b in wire]
    telemetry = [m.telemetry for m in messages]
    liveness = Liveness()
    pacer = TelemetryPacer.of(ControllerConfig(telemetry_interval_s=1e-9), time.monotonic())
    store = TelemetryStore(window_s=300.0, interval_s=1.0)

    def parsing() -> None:
        for blob in wire:
            parse(blob)

    def bookkeeping() -> None:
        now = time.time()
        for message in messages:
            _received(message.WhichOneof("body"))
            liveness.beat("n-00001", now)
            pacer.admit(time.monotonic())

    def validating() -> None:
        for item in telemetry:
            check_telemetry(item, gpus)

    def storing() -> None:
        for item in telemetry:
            store.ensure("n-00001", gpus).add(item)

    def counting() -> None:
        for _ in range(reports):
            ACCEPTED_OK.inc()

    stages = {
        "parse": parsing,
        "bookkeeping": bookkeeping,
        "validate": validating,
        "store": storing,
        "accepted_counter": counting,
    }
    return {name: _cpu_us(run, reports) for name, run in stages.items()}


def runtime_pass(nodes: int, gpus: int, passes: int = 3) -> dict[str, float]:
    """CPU microseconds per node-second of the runtime pass, snapshot and plan: at start-up
    (every idle GPU still at its default limit, so each pass proposes caps, most of them
    deferred by the action budget) and in the steady state (the caps applied and reported,
    as agents do: nothing to change)."""
    # The caches are filled in place (apply_local), as the watch fills them; no etcd.
    state = ClusterState(cast(Any, None), Keys(), TelemetryStore(300.0, 1.0))
    rng = random.Random(2)
    reports: dict[str, node_pb2.TelemetryReport] = {}
    for i in range(nodes):
        name = f"n-{i:05d}"
        info = node_info(name, gpus)
        record = types_pb2.Node(
            name=name, state=types_pb2.NODE_STATE_READY, gpu_count=gpus, info=info
        )
        state.nodes.apply_local(name, record)
        reports[name] = report(gpus, rng).telemetry
        state.telemetry.ensure(name, gpus).add(reports[name])
    inventory = GpuInventory(state)
    build_runtime_snapshot(state, (), time.time(), inventory)  # the inventory's first read
    config, memory = RuntimeConfig(), RuntimeMemory()
    figures = {}
    for phase in ("start", "steady"):
        if phase == "steady":
            memory = _settle(state, reports, inventory, memory)
        snapshot_s = plan_s = 0.0
        for _ in range(passes):
            started = time.process_time()
            snapshot = build_runtime_snapshot(state, (), time.time(), inventory)
            planned = time.process_time()
            plan_runtime(snapshot, memory, time.time(), config)
            plan_s += time.process_time() - planned
            snapshot_s += planned - started
        per = 1e6 / (passes * nodes * RUNTIME_INTERVAL_S)
        figures[f"runtime_snapshot_{phase}"] = snapshot_s * per
        figures[f"runtime_plan_{phase}"] = plan_s * per
    return figures


def _settle(
    state: ClusterState,
    reports: dict[str, node_pb2.TelemetryReport],
    inventory: GpuInventory,
    memory: RuntimeMemory,
) -> RuntimeMemory:
    """Plan with an unbounded action budget, an hour ago, and report every setting as
    applied (bench.scale.swarm.apply_setting, what its nodes do): the memory a leader has
    once its fleet carries out what it planned."""
    unbounded = RuntimeConfig(max_actions_per_minute=1_000_000_000)
    then = time.time() - 3600.0
    for _ in range(3):
        snapshot = build_runtime_snapshot(state, (), then, inventory)
        plan, memory = plan_runtime(snapshot, memory, then, unbounded)
        for action in plan.actions:
            command = agent_command(action)
            if command is not None:
                node, body = command
                apply_setting(reports[node], types_pb2.Command(**body))  # type: ignore[arg-type]
        for name, telemetry in reports.items():
            state.telemetry.ensure(name, len(telemetry.gpus)).add(telemetry)
    return memory


@click.command()
@click.option("--reports", type=click.IntRange(min=100), default=20_000, show_default=True)
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--gpus", type=click.IntRange(min=1, max=64), default=8, show_default=True)
@click.option("--nodes", type=click.IntRange(min=1), default=1000, show_default=True)
@output_option
def main(reports: int, repeats: int, gpus: int, nodes: int, output: str) -> None:
    """Per-report CPU of each ingestion stage, in process."""
    runs = [{**measure(reports, gpus), **runtime_pass(nodes, gpus)} for _ in range(repeats)]
    runs = [{**r, "total": sum(v for k, v in r.items() if not k.endswith("_start"))} for r in runs]
    result = {
        name: {
            "median_us": round(statistics.median(r[name] for r in runs), 2),
            "min_us": round(min(r[name] for r in runs), 2),
            "max_us": round(max(r[name] for r in runs), 2),
        }
        for name in runs[0]
    }
    with open("/proc/loadavg") as f:
        loadavg = f.read().split()[:3]
    if output == "json":
        click.echo(json.dumps({"reports": reports, "repeats": repeats, "gpus": gpus,
                               "nodes": nodes, "loadavg": loadavg, "stages": result},
                              indent=2))  # fmt: skip
        return
    click.echo(f"{reports} reports x {repeats}, {gpus} GPUs each, load {' '.join(loadavg)}")
    for name, figures in result.items():
        click.echo(f"  {name:<24} {figures['median_us']:8.2f} us "
                   f"({figures['min_us']:.2f}-{figures['max_us']:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
