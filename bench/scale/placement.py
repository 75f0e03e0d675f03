"""One optimizer pass at the bench's size, timed in process: the controller's own code path
(build the snapshot's capacity arrays, place one pending workload), on N nodes of G GPUs with
W workloads already placed (a quarter GPU each, as the bench registers them)."""

from __future__ import annotations

import math
import time

from controlplane.optimizer import OptimizerConfig, optimize
from controlplane.optimizer.types import (
    Assignment,
    GpuView,
    NodeView,
    Request,
    Snapshot,
    WorkloadView,
)

RUNS = 30
SHARE_MILLI = 250


def snapshot_of(nodes: int, gpus: int, placed: int) -> Snapshot:
    views = tuple(
        NodeView(
            name=f"n-{i:05d}",
            cpu_milli=96_000,
            memory_mib=1 << 20,
            gpus=tuple(GpuView(index=g, model="H100", memory_total_mib=81559) for g in range(gpus)),
        )
        for i in range(nodes)
    )
    per_gpu = 1000 // SHARE_MILLI
    workloads = []
    for w in range(placed):
        slot = w // per_gpu
        node, gpu = (slot // gpus) % nodes, slot % gpus
        workloads.append(
            WorkloadView(
                key=f"scale/bulk-{w}",
                priority=0,
                request=Request(gpus=1, milli_gpu=SHARE_MILLI),
                created=float(w),
                assignment=Assignment(views[node].name, (gpu,), SHARE_MILLI, float(w)),
            )
        )
    return Snapshot(views, tuple(workloads))


def optimizer_pass_ms(nodes: int, gpus: int, placed: int) -> dict[str, float | int]:
    base = snapshot_of(nodes, gpus, placed)
    config = OptimizerConfig()
    times = []
    for r in range(RUNS):
        pending = WorkloadView(f"scale/pending-{r}", 0, Request(gpus=1, milli_gpu=SHARE_MILLI), 1e9)
        snapshot = Snapshot(base.nodes, (*base.workloads, pending))
        t0 = time.perf_counter()
        optimize(snapshot, 2e9, config)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "runs": RUNS,
        "placed_workloads": placed,
        "median": round(times[len(times) // 2], 2),
        "p99": round(times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)], 2),
    }
