"""The aiwo run's controller: every control period, a RuntimeSnapshot of the simulated cluster
goes through the same `plan_runtime` the controller calls, and each action is carried out
after its actuation delay, as the agent or the application would."""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from dataclasses import dataclass, field

from bench.slo.cluster import Cluster, Gpu, Job
from bench.slo.scenario import GpuSlot, Scenario
from controlplane.optimizer.runtime import (
    DirectiveThrottle,
    DirectiveUnthrottle,
    LockClocks,
    Migrate,
    ResetClocks,
    ResetPowerCap,
    RuntimeAction,
    RuntimeConfig,
    RuntimeGpu,
    RuntimeMemory,
    RuntimeSnapshot,
    RuntimeWorkload,
    SetPowerCap,
    ThrottleProcess,
    UnthrottleProcess,
    WorkloadClass,
    plan_runtime,
)
from controlplane.view.latency import SloTracker

_DIRECTIVES = (DirectiveThrottle, DirectiveUnthrottle, Migrate)


@dataclass
class Controller:
    scenario: Scenario
    config: RuntimeConfig
    tracker: SloTracker
    memory: RuntimeMemory = field(default_factory=RuntimeMemory)
    counts: Counter[str] = field(default_factory=Counter)
    _queue: list[tuple[float, int, RuntimeAction]] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    def control(self, cluster: Cluster, now: float) -> None:
        snapshot = snapshot_of(cluster, self.tracker, self.scenario, now)
        plan, self.memory = plan_runtime(snapshot, self.memory, now, self.config)
        for action in plan.actions:
            self.counts[type(action).__name__] += 1
            delay = (
                self.scenario.directive_delay_s
                if isinstance(action, _DIRECTIVES)
                else self.scenario.command_delay_s
            )
            heapq.heappush(self._queue, (now + delay, next(self._seq), action))

    def actuate(self, cluster: Cluster, now: float) -> None:
        while self._queue and self._queue[0][0] <= now:
            _, _, action = heapq.heappop(self._queue)
            apply_action(cluster, action, now, self.scenario)


def slot_of(node: str, gpu: int) -> GpuSlot:
    return (int(node.rsplit("-", 1)[1]), gpu)


def apply_action(cluster: Cluster, action: RuntimeAction, now: float, s: Scenario) -> None:
    if isinstance(action, SetPowerCap | ResetPowerCap | LockClocks | ResetClocks):
        gpu = cluster.gpus[slot_of(action.node, action.gpu)]
        if isinstance(action, SetPowerCap):
            gpu.cap_w = action.watts
        elif isinstance(action, ResetPowerCap):
            gpu.cap_w = gpu.model.power_limit_default_w
        elif isinstance(action, LockClocks):
            gpu.clock_lock_mhz = action.max_mhz
        else:
            gpu.clock_lock_mhz = None
        gpu.changes.append(now)
        return
    if isinstance(action, Migrate):
        job = cluster.jobs.get(action.workload)
        if job is not None and job.running and job.leave_at is None and action.target:
            job.leave_at = now + s.checkpoint_s
            job.target = slot_of(*action.target)
        return
    job = cluster.jobs.get(getattr(action, "workload", ""))
    if job is None:
        return  # a service: the benchmark's services declare no variants
    throttle, cpu = job.throttle, job.cpu_fraction
    if isinstance(action, DirectiveThrottle) and job.cooperative:
        job.throttle = action.factor
    elif isinstance(action, DirectiveUnthrottle):
        job.throttle = 1.0
    elif isinstance(action, ThrottleProcess):
        job.cpu_fraction = action.cpu_fraction
    elif isinstance(action, UnthrottleProcess):
        job.cpu_fraction = 1.0
    if not job.running:
        return  # migrating: the restarted process starts unthrottled anyway
    if job.throttle != throttle:
        job.directive_changes.append(now)
    if job.cpu_fraction != cpu:
        job.process_changes.append(now)


def advance_migrations(cluster: Cluster, now: float, s: Scenario) -> None:
    """Checkpoint done: leave the GPU (if the target still has room); restart done: run."""
    for job in cluster.jobs.values():
        if job.leave_at is not None and now >= job.leave_at:
            job.leave_at = None
            if job.target is not None and cluster.free_milli(job.target) >= job.milli:
                job.slot, job.start_at = job.target, now + s.restart_s
            job.target = None
        if job.start_at is not None and now >= job.start_at:
            job.start_at = None
            job.throttle, job.cpu_fraction = 1.0, 1.0  # a new process, a fresh application


def snapshot_of(cluster: Cluster, tracker: SloTracker, s: Scenario, now: float) -> RuntimeSnapshot:
    gpus = []
    for slot, gpu in sorted(cluster.gpus.items()):
        here: list[RuntimeWorkload] = []
        for r in sorted(cluster.replicas(), key=lambda r: r.key):
            if r.placed and r.slot == slot:
                status = tracker.status(r.key, now)
                p99 = status.p99_latency_ms if status is not None else None
                here.append(
                    RuntimeWorkload(
                        r.key, s.service_priority, r.milli, WorkloadClass.LATENCY, s.target_ms, p99
                    )
                )
        for key, job in sorted(cluster.jobs.items()):
            if job.slot == slot:
                here.append(RuntimeWorkload(key, s.batch_priority, job.milli))
        gpus.append(_runtime_gpu(gpu, tuple(here)))
    return RuntimeSnapshot(tuple(gpus))


def _runtime_gpu(gpu: Gpu, workloads: tuple[RuntimeWorkload, ...]) -> RuntimeGpu:
    m = gpu.model
    return RuntimeGpu(
        node=gpu.node,
        index=gpu.slot[1],
        model=m.name,
        power_limit_min_w=m.power_limit_min_w,
        power_limit_max_w=m.power_limit_max_w,
        power_limit_default_w=m.power_limit_default_w,
        power_cap_w=gpu.cap_w,
        utilization=gpu.utilization,
        power_w=gpu.power_w,
        workloads=workloads,
        max_sm_clock_mhz=m.max_sm_clock_mhz,
        idle_power_w=m.idle_power_w,
        clock_lock_mhz=(
            None if gpu.clock_lock_mhz is None else (gpu.clock_lock_mhz, gpu.clock_lock_mhz)
        ),
    )


def max_changes_per_minute(times: list[float]) -> int:
    """The most changes inside any 60 s window."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= 60.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def jobs_on(cluster: Cluster, slot: GpuSlot) -> list[Job]:
    return [j for j in cluster.jobs.values() if j.slot == slot and j.running]
