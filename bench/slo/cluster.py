"""The simulated cluster's mutable state: GPUs with their caps, training jobs, services.

Actuators here are what the agent and the SDK would do with each runtime action, applied when
their delay has passed (control.py schedules them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.slo.scenario import GpuSlot
from bench.slo.service import LlmService
from gpumodel.models import GpuModel


@dataclass
class Gpu:
    slot: GpuSlot
    model: GpuModel
    cap_w: float
    clock_lock_mhz: int | None = None
    power_w: float = 0.0
    utilization: float = 0.0
    energy_j: float = 0.0
    changes: list[float] = field(default_factory=list)  # times its cap or clocks changed

    @property
    def node(self) -> str:
        return f"node-{self.slot[0]}"


@dataclass
class Job:
    """A training job: does milli/1000 x speed of work per second while it runs."""

    key: str
    milli: int
    cooperative: bool  # implements the SDK's throttle handler
    slot: GpuSlot | None
    throttle: float = 1.0  # cooperative directive in force
    cpu_fraction: float = 1.0  # process throttle in force
    leave_at: float | None = None  # migration: checkpoint ends, the job leaves its GPU
    start_at: float | None = None  # migration: restart ends, the job runs on `slot`
    target: GpuSlot | None = None
    work: float = 0.0  # GPU-seconds of progress
    alone_work: float = 0.0  # what it would have done alone on its share
    directive_changes: list[float] = field(default_factory=list)  # cooperative throttle
    process_changes: list[float] = field(default_factory=list)  # process throttle

    @property
    def running(self) -> bool:
        return self.slot is not None and self.start_at is None

    def duty(self) -> float:
        return self.milli / 1000.0 * self.throttle * self.cpu_fraction


@dataclass
class Service:
    sim: LlmService
    milli: int
    slot: GpuSlot
    served: int = 0
    within: int = 0
    pending_ms: list[float] = field(default_factory=list)  # latencies not yet reported


@dataclass
class Cluster:
    gpus: dict[GpuSlot, Gpu]
    jobs: dict[str, Job]
    services: dict[str, Service]

    def free_milli(self, slot: GpuSlot) -> int:
        used = sum(s.milli for s in self.services.values() if s.slot == slot)
        used += sum(j.milli for j in self.jobs.values() if j.slot == slot)
        return 1000 - used
