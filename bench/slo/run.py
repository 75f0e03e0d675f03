"""One run of the scenario in simulated time: `none`, `priority` or `aiwo`, same arrivals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.slo.cluster import Cluster, Gpu, Job, Service
from bench.slo.control import (
    Controller,
    advance_migrations,
    jobs_on,
    max_changes_per_minute,
)
from bench.slo.gpu import batch_demand_w, gpu_tick, latency_demand_w
from bench.slo.scenario import Scenario, cooperative_jobs, place, workloads
from bench.slo.service import LlmService
from bench.slo.trace import LlmTrace
from controlplane.optimizer.runtime import RuntimeConfig
from controlplane.view.latency import SloTracker
from gpumodel import perf
from gpumodel.models import get_model

MODES = ("none", "priority", "aiwo")
# An extra run, on request: the priority placement with aiwo's runtime control on top.
EXTRA_MODES = ("priority+aiwo",)
PLACEMENT = {
    "none": "spread",
    "priority": "priority",
    "aiwo": "spread",
    "priority+aiwo": "priority",
}
REPORT_EVERY_S = 1.0  # services report latencies to the controller once a second (SDK batching)


@dataclass(frozen=True)
class RunResult:
    mode: str
    seed: int
    requests: int
    within_target: int
    batch_work: float
    batch_alone_work: float
    energy_j: float
    actions: dict[str, int]  # per action type
    max_changes_per_min: dict[str, int]  # per actuator: the most changes in any 60 s
    # What the same-work energy and the energy bound need (report.py, bound.py):
    gpu_model: str = ""
    gpus: int = 0
    duration_s: float = 0.0
    batch_marginal_w: float = 0.0  # uncapped power per unit of batch work, above idle

    @property
    def slo_attainment_pct(self) -> float:
        return 100.0 * self.within_target / self.requests if self.requests else 100.0

    @property
    def batch_throughput_kept_pct(self) -> float:
        return 100.0 * self.batch_work / self.batch_alone_work if self.batch_alone_work else 100.0

    @property
    def energy_kwh(self) -> float:
        return perf.joules_to_kwh(self.energy_j)


def split_trace(trace: LlmTrace, n: int, duration_s: float, seed: int) -> list[np.ndarray]:
    """Deal the requests that arrive within the duration among n services, at random."""
    keep = np.flatnonzero(trace.arrival_s < duration_s)
    owner = np.random.default_rng(seed).integers(0, n, size=keep.size)
    return [keep[owner == i] for i in range(n)]


def build(s: Scenario, trace: LlmTrace, mode: str, duration_s: float, seed: int) -> Cluster:
    model = get_model(s.gpu_model)
    slots = place(s, PLACEMENT[mode])
    services, jobs = workloads(s)
    coop = cooperative_jobs(s, seed)
    parts = split_trace(trace, len(services), duration_s, seed)
    return Cluster(
        gpus={sl: Gpu(sl, model, model.power_limit_default_w) for sl in s.slots},
        jobs={j.key: Job(j.key, j.milli, j.key in coop, slots.get(j.key)) for j in jobs},
        services={
            item.key: Service(
                LlmService(
                    item.key,
                    trace.arrival_s[idx],
                    trace.prompt_tokens[idx],
                    trace.output_tokens[idx],
                    s.service_params,
                ),
                item.milli,
                slots[item.key],
            )
            for item, idx in zip(services, parts, strict=True)
        },
    )


def simulate(
    s: Scenario,
    trace: LlmTrace,
    mode: str,
    duration_s: float,
    seed: int,
    config: RuntimeConfig | None = None,
) -> RunResult:
    if mode not in PLACEMENT:
        raise ValueError(f"unknown run {mode!r}; known: {', '.join(PLACEMENT)}")
    cluster = build(s, trace, mode, duration_s, seed)
    model = next(iter(cluster.gpus.values())).model
    lat_w, batch_w = latency_demand_w(model), batch_demand_w(model)
    tracker = SloTracker(window_s=s.slo_window_s, stale_after_s=s.slo_stale_s)
    controller = (
        Controller(s, config or RuntimeConfig(), tracker) if mode.endswith("aiwo") else None
    )
    ticks = round(duration_s / s.tick_s)
    control_every = max(1, round(s.control_period_s / s.tick_s))
    report_every = max(1, round(REPORT_EVERY_S / s.tick_s))
    by_slot = {
        sl: [svc for svc in cluster.services.values() if svc.slot == sl] for sl in cluster.gpus
    }
    dt = s.tick_s
    for k in range(ticks):
        now, end = k * dt, (k + 1) * dt
        if controller is not None:
            controller.actuate(cluster, now)
            advance_migrations(cluster, now, s)
        for slot, gpu in cluster.gpus.items():
            svcs, jobs = by_slot[slot], jobs_on(cluster, slot)
            duties = [1.0 if svc.sim.has_work(end) else 0.0 for svc in svcs]
            duties += [j.duty() for j in jobs]
            demands = [lat_w] * len(svcs) + [batch_w] * len(jobs)
            state = gpu_tick(model, gpu.cap_w, gpu.clock_lock_mhz, duties, demands)
            gpu.power_w, gpu.utilization = state.power_w, min(1.0, sum(state.shares))
            gpu.energy_j += state.power_w * dt
            for i, svc in enumerate(svcs):
                others = [d for j, d in enumerate(state.shares) if j != i]
                _, done = svc.sim.advance(now, dt, others, state.throughput)
                for _, tpot in done:
                    svc.served += 1
                    svc.within += tpot <= s.target_ms
                    svc.pending_ms.append(tpot)
            for j, job in enumerate(jobs, start=len(svcs)):
                job.work += state.shares[j] * state.throughput * dt
        for job in cluster.jobs.values():
            job.alone_work += job.milli / 1000.0 * dt
        if k % report_every == report_every - 1:
            for key, svc in cluster.services.items():
                tracker.observe(key, end, svc.pending_ms)
                svc.pending_ms = []
        if controller is not None and k % control_every == control_every - 1:
            controller.control(cluster, end)
    return RunResult(
        mode=mode,
        seed=seed,
        requests=sum(svc.served for svc in cluster.services.values()),
        within_target=sum(svc.within for svc in cluster.services.values()),
        batch_work=sum(j.work for j in cluster.jobs.values()),
        batch_alone_work=sum(j.alone_work for j in cluster.jobs.values()),
        energy_j=sum(g.energy_j for g in cluster.gpus.values()),
        actions=dict(sorted(controller.counts.items())) if controller else {},
        gpu_model=model.name,
        gpus=len(cluster.gpus),
        duration_s=ticks * dt,
        batch_marginal_w=batch_w - model.idle_power_w,
        max_changes_per_min={
            "gpu_cap": max(
                (max_changes_per_minute(g.changes) for g in cluster.gpus.values()), default=0
            ),
            "directive_throttle": max(
                (max_changes_per_minute(j.directive_changes) for j in cluster.jobs.values()),
                default=0,
            ),
            "process_throttle": max(
                (max_changes_per_minute(j.process_changes) for j in cluster.jobs.values()),
                default=0,
            ),
        },
    )
