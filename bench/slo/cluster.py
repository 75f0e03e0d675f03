"""The simulated cluster's mutable state: GPUs with their caps, training jobs, services.

Actuators here are what the agent and the SDK would do with each runtime action, applied when
their delay has passed (control.py schedules them).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

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
    placed_at: float = 0.0  # when it got its GPU (the placement core's minimum runtime)
    preempted: int = 0  # times the placement core preempted it for a replica
    work: float = 0.0  # GPU-seconds of progress
    alone_work: float = 0.0  # what it would have done alone on its share
    directive_changes: list[float] = field(default_factory=list)  # cooperative throttle
    process_changes: list[float] = field(default_factory=list)  # process throttle

    @property
    def running(self) -> bool:
        return self.slot is not None and self.start_at is None

    def duty(self) -> float:
        return self.milli / 1000.0 * self.throttle * self.cpu_fraction


ReplicaState = Literal["pending", "starting", "ready", "draining"]


@dataclass
class Replica:
    """One replica of a service: a decode server on a GPU share.

    pending: wanted, not placed yet (the placement core places it); starting: placed, loading
    its model until `ready_at` (it holds its share and takes no requests); ready: takes
    requests; draining: takes no new requests, leaves its GPU when the last one finished."""

    key: str  # the first replica keeps the service's key; added ones are "<key>-r<n>"
    sim: LlmService
    milli: int
    slot: GpuSlot | None
    state: ReplicaState = "ready"
    since: float = 0.0  # when it entered `state` (placed, for a starting one)
    ready_at: float = 0.0
    pending_ms: list[float] = field(default_factory=list)  # latencies not yet reported

    @property
    def placed(self) -> bool:
        return self.slot is not None and self.state != "pending"


@dataclass
class Service:
    """A service: its requests, and the replicas that serve them.

    With `routed` False its single replica owns the requests (the runs with fixed replicas);
    with `routed` True the router (`route`) hands each arriving request to the ready replica
    with the fewest outstanding requests, as the gateway does, and holds it while none is
    ready."""

    key: str
    milli: int
    replicas: list[Replica]
    routed: bool = False
    served: int = 0
    within: int = 0
    added: int = 0  # replicas ever added (names)
    _next: int = 0  # next request to route
    held: deque[int] = field(default_factory=deque)  # arrived, no ready replica
    # This second's traffic, for the autoscaler's samples (TrafficSample):
    arrivals: int = 0
    completed: int = 0
    tpots_ms: list[float] = field(default_factory=list)

    @property
    def sim(self) -> LlmService:
        """The first replica's model (a service with fixed replicas has one)."""
        return self.replicas[0].sim

    @property
    def slot(self) -> GpuSlot | None:
        return self.replicas[0].slot

    def route(self, end_s: float) -> None:
        """Hand the requests arriving before end_s to ready replicas (least outstanding)."""
        if not self.routed:
            return
        arrival = self.sim.arrival_s
        while self._next < arrival.size and arrival[self._next] < end_s:
            self.held.append(self._next)
            self._next += 1
            self.arrivals += 1
        ready = [r for r in self.replicas if r.state == "ready"]
        while self.held and ready:
            best = min(ready, key=lambda r: r.sim.outstanding)
            best.sim.admit(self.held.popleft())

    def in_flight(self) -> int:
        return sum(r.sim.outstanding for r in self.replicas if r.placed)


@dataclass
class Cluster:
    gpus: dict[GpuSlot, Gpu]
    jobs: dict[str, Job]
    services: dict[str, Service]

    def replicas(self) -> list[Replica]:
        return [r for svc in self.services.values() for r in svc.replicas]

    def free_milli(self, slot: GpuSlot) -> int:
        used = sum(r.milli for r in self.replicas() if r.slot == slot and r.placed)
        used += sum(j.milli for j in self.jobs.values() if j.slot == slot)
        return 1000 - used
