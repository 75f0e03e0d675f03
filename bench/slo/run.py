"""One run of the scenario in simulated time: `none`, `priority` or `aiwo`, same arrivals."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from bench.slo.cluster import Cluster, Gpu, Job, Replica, Service
from bench.slo.control import (
    Controller,
    advance_migrations,
    jobs_on,
    max_changes_per_minute,
)
from bench.slo.gpu import batch_demand_w, gpu_tick, latency_demand_w
from bench.slo.loadtest import PRIOR_UTILIZATION, cached_capacity
from bench.slo.scale import Scaler, advance_replicas
from bench.slo.scenario import GpuSlot, Scenario, cooperative_jobs, place, workloads
from bench.slo.service import LlmService
from bench.slo.trace import LlmTrace
from controlplane.optimizer.autoscale import AutoscaleConfig
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
    # Replica control (the aiwo runs with Scenario.autoscale; zeros elsewhere):
    scale: dict[str, int] = field(default_factory=dict)  # scale_up, scale_down, preemptions...
    max_replicas: int = 0  # the most replicas placed at once, all services
    replica_gpu_s: float = 0.0  # GPU-seconds of shares held by replicas
    # Where the energy went: every GPU's idle power, and its power above idle split by what
    # each workload adds (share x its locked demand above idle, scaled to the capped draw).
    idle_energy_j: float = 0.0
    service_energy_j: float = 0.0

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


def scales(s: Scenario, mode: str) -> bool:
    """Whether this run's services grow and shrink (aiwo's runs, with Scenario.autoscale)."""
    return s.autoscale and mode.endswith("aiwo")


def build(s: Scenario, trace: LlmTrace, mode: str, duration_s: float, seed: int) -> Cluster:
    model = get_model(s.gpu_model)
    slots = place(s, PLACEMENT[mode])
    services, jobs = workloads(s)
    coop = cooperative_jobs(s, seed)
    parts = split_trace(trace, len(services), duration_s, seed)
    routed = scales(s, mode)
    out = {}
    for item, idx in zip(services, parts, strict=True):
        sim = LlmService(
            item.key,
            trace.arrival_s[idx],
            trace.prompt_tokens[idx],
            trace.output_tokens[idx],
            s.service_params,
            routed=routed,
        )
        replica = Replica(item.key, sim, item.milli, slots.get(item.key))
        out[item.key] = Service(item.key, item.milli, [replica], routed=routed)
    return Cluster(
        gpus={sl: Gpu(sl, model, model.power_limit_default_w) for sl in s.slots},
        jobs={j.key: Job(j.key, j.milli, j.key in coop, slots.get(j.key)) for j in jobs},
        services=out,
    )


def autoscale_config(s: Scenario, trace: LlmTrace) -> AutoscaleConfig:
    """The core's defaults, with its priors from the operator's load test (loadtest.py)."""
    cap = cached_capacity(trace, s.service_params, s.target_ms)
    return replace(
        AutoscaleConfig(),
        prior_rate_per_replica_rps=round(PRIOR_UTILIZATION * cap.rate_rps, 3),
        target_concurrency=round(PRIOR_UTILIZATION * cap.in_flight, 3),
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
    scaler = Scaler(s, autoscale_config(s, trace)) if scales(s, mode) else None
    ticks = round(duration_s / s.tick_s)
    control_every = max(1, round(s.control_period_s / s.tick_s))
    report_every = max(1, round(REPORT_EVERY_S / s.tick_s))
    dt = s.tick_s
    max_replicas, replica_gpu_s, idle_j, service_j = 0, 0.0, 0.0, 0.0
    for k in range(ticks):
        now, end = k * dt, (k + 1) * dt
        if controller is not None:
            controller.actuate(cluster, now)
            advance_migrations(cluster, now, s)
        if scaler is not None:
            advance_replicas(cluster, now)
        by_slot: dict[GpuSlot, list[tuple[Service, Replica]]] = {sl: [] for sl in cluster.gpus}
        placed = 0
        for svc in cluster.services.values():
            svc.route(end)
            for r in svc.replicas:
                if r.placed and r.slot is not None:
                    by_slot[r.slot].append((svc, r))
                    placed += 1
        max_replicas = max(max_replicas, placed)
        for slot, gpu in cluster.gpus.items():
            here, jobs = by_slot[slot], jobs_on(cluster, slot)
            replica_gpu_s += sum(r.milli for _, r in here) / 1000.0 * dt
            # A replica loading its model holds its share but runs no kernels [E].
            duties = [
                1.0 if r.state != "starting" and r.sim.has_work(end) else 0.0 for _, r in here
            ]
            duties += [j.duty() for j in jobs]
            demands = [lat_w] * len(here) + [batch_w] * len(jobs)
            latency = [True] * len(here) + [False] * len(jobs)
            state = gpu_tick(model, gpu.cap_w, gpu.clock_lock_mhz, duties, demands, latency)
            gpu.power_w, gpu.utilization = state.power_w, min(1.0, sum(state.shares))
            gpu.energy_j += state.power_w * dt
            idle_j += min(state.power_w, model.idle_power_w) * dt
            above = state.demand_w - model.idle_power_w
            if here and above > 0.0:
                dynamic = (state.power_w - model.idle_power_w) / above
                service_j += dynamic * sum(state.service_w[: len(here)]) * dt
            for i, (svc, r) in enumerate(here):
                if r.state == "starting":
                    continue
                others = [d for j, d in enumerate(state.shares) if j != i]
                _, done = r.sim.advance(now, dt, others, state.throughput, state.decode_throughput)
                for _, tpot in done:
                    svc.served += 1
                    svc.within += tpot <= s.target_ms
                    svc.completed += 1
                    r.pending_ms.append(tpot)
                    if scaler is not None:
                        svc.tpots_ms.append(tpot)
            for j, job in enumerate(jobs, start=len(here)):
                job.work += state.shares[j] * state.throughput * dt
        for job in cluster.jobs.values():
            job.alone_work += job.milli / 1000.0 * dt
        if k % report_every == report_every - 1:
            for svc in cluster.services.values():
                for r in svc.replicas:
                    tracker.observe(r.key, end, r.pending_ms)
                    r.pending_ms = []
            if scaler is not None:
                scaler.sample(cluster, end, REPORT_EVERY_S)
        if k % control_every == control_every - 1:
            if scaler is not None:
                scaler.control(cluster, end)
            if controller is not None:
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
        scale=dict(sorted(scaler.counts.items())) if scaler else {},
        max_replicas=max_replicas,
        replica_gpu_s=replica_gpu_s,
        idle_energy_j=idle_j,
        service_energy_j=service_j,
    )
