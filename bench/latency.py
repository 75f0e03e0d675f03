"""Decision latency of `optimize` for one pending workload on the trace's 1,213-node cluster.

The snapshot is built the way the controller would see it: nodes from the trace, and trace pods
already placed (by the same policy) until `--fill` of GPU capacity is taken, each a WorkloadView
with its assignment. Each run adds one pending pod and times one whole `optimize` call,
including building the numpy state from the snapshot.
"""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from bench.options import output_option
from bench.sequence import pod_order
from bench.trace import Pod, TraceError, read_nodes, read_pods
from controlplane.app.gc_policy import settle
from controlplane.optimizer import OptimizerConfig, optimize
from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.filters import build_filters
from controlplane.optimizer.place import decide
from controlplane.optimizer.policy import POLICY_NAMES, build_policy
from controlplane.optimizer.types import (
    Assignment,
    NodeView,
    Request,
    Snapshot,
    WorkloadView,
)


def _request(p: Pod) -> Request:
    d = p.demand
    return Request(
        gpus=d.gpus,
        milli_gpu=d.milli if d.gpus else 1000,
        cpu_milli=d.cpu_milli,
        memory_mib=d.memory_mib,
        gpu_models=d.models,
    )


def filled_snapshot(
    nodes: list[NodeView], pods: list[Pod], policy: str, fill: float, seed: int
) -> tuple[Snapshot, list[Pod]]:
    """The cluster after placing shuffled trace pods until `fill` × GPU capacity has arrived."""
    rng = np.random.default_rng(seed)
    state = CapacityArrays.of_nodes(nodes, seed=seed)
    order = pod_order(pods, state.gpu_capacity_milli, 1.0, rng)
    pol = build_policy(policy)
    filters = build_filters()
    placed: list[WorkloadView] = []
    arrived = 0
    rest: list[Pod] = []
    for n, i in enumerate(order):
        p = pods[i]
        if arrived >= fill * state.gpu_capacity_milli:
            rest = [pods[j] for j in order[n:]]
            break
        arrived += p.gpu_milli
        pol.observe(p.demand)
        _, c = decide(state, p.demand, pol, filters, rng, count=False)
        if c is None:
            continue
        state.allocate(c.node, c.gpus, p.demand)
        a = Assignment(state.names[c.node], c.gpus, p.demand.milli, float(n))
        placed.append(WorkloadView(f"trace/{p.name}-{n}", 0, _request(p), float(n), a))
    return Snapshot(tuple(nodes), tuple(placed)), rest or list(pods)


@click.command("placement-latency")
@click.option(
    "--nodes",
    "nodes_csv",
    type=click.Path(path_type=Path),
    default=None,
    help="node list CSV (default: the Alibaba trace)",
)
@click.option("--pods", "pods_csv", type=click.Path(path_type=Path), default=None)
@click.option("--policy", type=click.Choice(POLICY_NAMES), default="default", show_default=True)
@click.option(
    "--fill",
    type=click.FloatRange(0.0, 1.3),
    default=0.9,
    show_default=True,
    help="share of GPU capacity already requested by placed work",
)
@click.option("--runs", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--gc",
    "gc_mode",
    type=click.Choice(["settled", "default", "both"]),
    default="settled",
    show_default=True,
    help="settled: the heap settled as aiwo-controller settles it (controlplane/app/gc_policy.py); "
    "default: CPython's collector as it comes; both: alternate blocks of 50 runs, side by side.",
)
@output_option
def placement_latency(
    nodes_csv: Path | None,
    pods_csv: Path | None,
    policy: str,
    fill: float,
    runs: int,
    seed: int,
    gc_mode: str,
    output: str,
) -> None:
    """p50/p99 of one optimize() call placing one pending workload."""
    from bench.main import DEFAULT_NODES, DEFAULT_PODS

    try:
        nodes = read_nodes(nodes_csv or DEFAULT_NODES)
        pods = read_pods(pods_csv or DEFAULT_PODS)
    except TraceError as e:
        raise click.ClickException(str(e)) from None
    snapshot, upcoming = filled_snapshot(nodes, pods, policy, fill, seed)
    config = OptimizerConfig(policy=policy, seed=seed)
    modes = ["settled", "default"] if gc_mode == "both" else [gc_mode]
    times_ms: dict[str, list[float]] = {mode: [] for mode in modes}
    placed = dict.fromkeys(modes, 0)
    full_collections = dict.fromkeys(modes, 0)  # CPython gen-2 collections inside the calls
    for r in range(runs):
        mode = modes[(r // GC_BLOCK) % len(modes)]
        if r % GC_BLOCK == 0:
            _set_gc(mode)
        p = upcoming[r % len(upcoming)]
        w = WorkloadView(f"bench/pending-{r}", 0, _request(p), 1e9)
        snap = Snapshot(snapshot.nodes, (*snapshot.workloads, w))
        collections = gc.get_stats()[2]["collections"]
        t0 = time.perf_counter()
        plan = optimize(snap, 2e9, config)
        times_ms[mode].append((time.perf_counter() - t0) * 1000.0)
        full_collections[mode] += gc.get_stats()[2]["collections"] - collections
        placed[mode] += len(plan.placements)
    gc.unfreeze()
    rows = []
    for mode, values in times_ms.items():
        t = np.array(values)
        rows.append(
            {
                "policy": policy,
                "gc": mode,
                "nodes": len(nodes),
                "placed_workloads": len(snapshot.workloads),
                "runs": len(values),
                "placed": placed[mode],
                "p50_ms": round(float(np.percentile(t, 50)), 2),
                "p99_ms": round(float(np.percentile(t, 99)), 2),
                "max_ms": round(float(t.max()), 2),
                "full_collections_in_calls": full_collections[mode],
            }
        )
    if output == "json":
        click.echo(json.dumps(rows[0] if len(rows) == 1 else rows, indent=2))
        return
    tab = Table(title=f"optimize() latency, one pending workload ({policy})")
    for key in rows[0]:
        tab.add_column(key, justify="right")
    for row in rows:
        tab.add_row(*(str(v) for v in row.values()))
    Console().print(tab)


GC_BLOCK = 50  # runs per block when --gc both alternates


def _set_gc(mode: str) -> None:
    if mode == "settled":
        settle()  # what aiwo-controller does once its state is loaded, and every 5 minutes
    else:
        gc.unfreeze()
        gc.collect()
