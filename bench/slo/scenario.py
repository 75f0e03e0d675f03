"""The co-location scenario: a small cluster, latency-critical LLM services and batch training.

Defaults (every one is a field, so a run can change it):
- 2 nodes x 4 A100-80GB (100-400 W limits; docs/gpu-model.md §1).
- 6 inference services, 500 milli each, priority 800, p99 TPOT target 50 ms (20 tokens/s,
  faster than people read); the trace's requests are dealt among them at random (by seed).
- 8 training jobs, 500 milli each, priority 100; half of them (chosen by seed) implement the
  SDK's throttle handler, the rest ignore cooperative directives.
- Control: a pass every 5 s; agent commands take effect 1 s after they are sent, cooperative
  directives 2 s (the application's handler), a migration checkpoints for 30 s on the old GPU
  and restarts for 30 s before it runs on the new one [E].
- The controller's rolling p99: controlplane.view.latency.SloTracker over 30 s, stale after 10 s.
- Replicas (the aiwo runs, `autoscale`): each service starts with one replica and may have
  1..`service_max_replicas` (4), decided by the controller's autoscaler core and placed by its
  placement core, preempting batch work where no share is free (bench/slo/scale.py); a new
  replica loads for `cold_start_s`, 60 s (gpumodel/serving.py's sourced default for a vLLM
  7-8B replica with weights on local disk). The `none` and `priority` runs keep one replica.

Placements:
- "spread" (the runs `none` and `aiwo`): the training jobs are running when the services land;
  each workload goes to the GPU with the most free share (Kubernetes' default LeastAllocated
  scoring), so services end up next to training jobs.
- "priority" (the run `priority`): services first, each on an empty GPU where one exists; then
  training jobs, preferring GPUs without a service. Placement only: no runtime control.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.slo.service import ServiceParams
from gpumodel.serving import DEFAULT_COLD_START_S

GpuSlot = tuple[int, int]  # (node index, GPU index)


@dataclass(frozen=True)
class Scenario:
    nodes: int = 2
    gpus_per_node: int = 4
    gpu_model: str = "A100-80GB"
    services: int = 6
    service_milli: int = 500
    service_priority: int = 800
    target_ms: float = 50.0
    batch_jobs: int = 8
    batch_milli: int = 500
    batch_priority: int = 100
    cooperative_fraction: float = 0.5
    service_params: ServiceParams = field(default_factory=ServiceParams)
    tick_s: float = 0.1
    control_period_s: float = 5.0
    command_delay_s: float = 1.0
    directive_delay_s: float = 2.0
    checkpoint_s: float = 30.0
    restart_s: float = 30.0
    slo_window_s: float = 30.0
    slo_stale_s: float = 10.0
    autoscale: bool = True
    service_max_replicas: int = 4
    cold_start_s: float = DEFAULT_COLD_START_S

    @property
    def slots(self) -> list[GpuSlot]:
        return [(n, g) for n in range(self.nodes) for g in range(self.gpus_per_node)]


@dataclass(frozen=True, slots=True)
class Item:
    key: str
    milli: int
    latency: bool


def workloads(s: Scenario) -> tuple[list[Item], list[Item]]:
    services = [Item(f"inference/svc-{i}", s.service_milli, True) for i in range(s.services)]
    jobs = [Item(f"training/job-{i}", s.batch_milli, False) for i in range(s.batch_jobs)]
    return services, jobs


def cooperative_jobs(s: Scenario, seed: int) -> set[str]:
    _, jobs = workloads(s)
    rng = np.random.default_rng(seed + 1)
    n = round(s.cooperative_fraction * len(jobs))
    return {jobs[i].key for i in rng.choice(len(jobs), size=n, replace=False)}


def place(s: Scenario, mode: str) -> dict[str, GpuSlot]:
    """Where every workload starts: "spread" or "priority" (see the module docstring)."""
    services, jobs = workloads(s)
    free = {slot: 1000 for slot in s.slots}
    has_service: set[GpuSlot] = set()
    out: dict[str, GpuSlot] = {}

    def put(item: Item, slot: GpuSlot) -> None:
        free[slot] -= item.milli
        out[item.key] = slot
        if item.latency:
            has_service.add(slot)

    def fits(item: Item) -> list[GpuSlot]:
        return [slot for slot in s.slots if free[slot] >= item.milli]

    if mode == "spread":
        for item in jobs + services:
            options = fits(item)
            if options:  # most free share first, then the lowest slot
                put(item, max(options, key=lambda sl: (free[sl], -sl[0], -sl[1])))
        return out
    if mode != "priority":
        raise ValueError(f"unknown placement {mode!r}")
    for item in services:
        options = fits(item)
        if options:  # an empty GPU if any, else the fullest that fits
            put(item, min(options, key=lambda sl: (free[sl] != 1000, free[sl], sl)))
    for item in jobs:
        options = fits(item)
        if options:  # a GPU without a service first, best fit within that
            put(item, min(options, key=lambda sl: (sl in has_service, free[sl], sl)))
    return out
