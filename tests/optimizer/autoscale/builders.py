"""Small builders for autoscaler snapshots, and a tiny closed-loop world to drive the core.

`World` is a test double for the data plane only (the core under test is the real one): each
ready replica serves `capacity_rps` within the SLO; TTFT p99 grows as the load per replica
nears it and breaks the target past it; a replica started by a decision is ready after
`load_s`. Arrivals are Poisson from a seeded generator, so runs repeat exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from controlplane.optimizer.autoscale import (
    AutoscaleConfig,
    AutoscaleMemory,
    ReplicaView,
    ScaleDecision,
    ScaleSnapshot,
    ServiceTargets,
    ServiceView,
    TrafficSample,
    plan_scale,
)

KEY = "default/chat"
TTFT_TARGET_MS = 2000.0


def sample(
    t: float,
    arrivals: int = 0,
    *,
    in_flight: int = 0,
    queued: int = 0,
    ttft_ms: float | None = None,
    interval_s: float = 1.0,
) -> TrafficSample:
    return TrafficSample(
        t, interval_s, arrivals, arrivals, 0, in_flight, queued, ttft_ms, None, None
    )


def replica(
    name: str,
    state: str = "ready",
    since: float = 0.0,
    in_flight: int = 0,
    frees_gpu: bool = False,
    frees_node: bool = False,
) -> ReplicaView:
    return ReplicaView(name, state, since, in_flight, frees_gpu, frees_node)  # type: ignore[arg-type]


def ready(n: int, since: float = 0.0) -> tuple[ReplicaView, ...]:
    return tuple(replica(f"r{i}", "ready", since) for i in range(n))


def service(
    replicas: tuple[ReplicaView, ...] = (),
    traffic: tuple[TrafficSample, ...] = (),
    *,
    min_replicas: int = 0,
    max_replicas: int = 64,
    pinned: int | None = None,
    ttft_ms: float | None = TTFT_TARGET_MS,
    room: int = 64,
    room_by_preemption: int = 0,
) -> ServiceView:
    return ServiceView(
        KEY,
        min_replicas,
        max_replicas,
        pinned,
        ServiceTargets(ttft_ms=ttft_ms),
        replicas,
        traffic,
        room,
        room_by_preemption,
    )


def plan_one(
    view: ServiceView, memory: AutoscaleMemory, now: float, config: AutoscaleConfig | None = None
) -> ScaleDecision:
    return plan_scale(ScaleSnapshot((view,)), memory, now, config or AutoscaleConfig()).decisions[0]


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0.0:
        return 0
    if mean > 50.0:  # normal approximation: exact enough, and fast
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass
class World:
    """One service in a closed loop with the core. `rate(t)` is the offered arrivals/s."""

    rate: Callable[[float], float]
    capacity_rps: float = 10.0
    load_s: float = 30.0
    step_s: float = 1.0
    seed: int = 1
    min_replicas: int = 0
    max_replicas: int = 64
    room: int = 64
    config: AutoscaleConfig = field(default_factory=AutoscaleConfig)
    now: float = 0.0
    memory: AutoscaleMemory = field(default_factory=AutoscaleMemory)
    replicas: dict[str, tuple[str, float]] = field(default_factory=dict)  # name -> (state, since)
    decisions: list[ScaleDecision] = field(default_factory=list)
    breaches: int = 0
    served: int = 0
    _next: int = 0

    def start_with(self, n: int) -> World:
        for _ in range(n):
            self._add("ready")
        return self

    def _add(self, state: str) -> None:
        self.replicas[f"r{self._next}"] = (state, self.now)
        self._next += 1

    def _ready(self) -> int:
        return sum(1 for state, _ in self.replicas.values() if state == "ready")

    def step(self) -> ScaleDecision:
        self.now += self.step_s
        for name, (state, since) in list(self.replicas.items()):
            if state == "starting" and self.now - since >= self.load_s:
                self.replicas[name] = ("ready", self.now)
        n = self._ready()
        arrivals = poisson(self.rng, self.rate(self.now) * self.step_s)
        ttft: float | None = None
        in_flight = 0
        queued = 0
        if n == 0:
            queued = arrivals
        elif arrivals:
            rho = arrivals / self.step_s / (n * self.capacity_rps)
            # Flat until the knee, then steep: the hockey stick of a batching engine's TTFT.
            ttft = 300.0 + 1700.0 * rho**6
            in_flight = round(arrivals / self.step_s * 0.5)  # Little: ~0.5 s in the engine
            self.served += arrivals
            if ttft > TTFT_TARGET_MS:
                self.breaches += arrivals
        traffic = (
            sample(
                self.now,
                arrivals,
                in_flight=in_flight,
                queued=queued,
                ttft_ms=ttft,
                interval_s=self.step_s,
            ),
        )
        views = tuple(replica(name, state, since) for name, (state, since) in self.replicas.items())
        room = max(0, self.room - len(self.replicas))
        view = service(
            views,
            traffic,
            min_replicas=self.min_replicas,
            max_replicas=self.max_replicas,
            room=room,
        )
        decision = plan_one(view, self.memory, self.now, self.config)
        for name in decision.remove:
            del self.replicas[name]
        for _ in range(decision.desired - decision.current):
            self._add("starting")
        self.decisions.append(decision)
        return decision

    def run(self, seconds: float) -> list[ScaleDecision]:
        first = len(self.decisions)
        for _ in range(int(seconds / self.step_s)):
            self.step()
        return self.decisions[first:]

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


def direction_changes(decisions: list[ScaleDecision]) -> list[float]:
    """Times (index into decisions) at which the direction of scaling reversed."""
    changes: list[float] = []
    last = 0
    for i, d in enumerate(decisions):
        if d.desired == d.current:
            continue
        direction = 1 if d.desired > d.current else -1
        if last and direction != last:
            changes.append(float(i))
        last = direction
    return changes
