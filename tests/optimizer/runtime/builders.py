"""Small builders for runtime snapshots: `gpu("n1", 0).with_(ls("a", p99=120), job("b"))`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Protocol, TypeVar

from controlplane.optimizer.runtime import (
    ResetPowerCap,
    RuntimeAction,
    RuntimeGpu,
    RuntimeMemory,
    RuntimeSnapshot,
    RuntimeWorkload,
    SetPowerCap,
    VariantView,
    WorkloadClass,
)
from controlplane.optimizer.runtime.config import RuntimeConfig
from controlplane.optimizer.runtime.plan import RuntimePlan, plan_runtime


def ls(
    name: str,
    p99: float | None = 50.0,
    target: float = 100.0,
    priority: int = 800,
    milli: int = 500,
    variant: str = "",
    variants: tuple[VariantView, ...] = (),
) -> RuntimeWorkload:
    """A latency service with a p99 target (default 100 ms) and an observed p99."""
    return RuntimeWorkload(
        f"ns/{name}", priority, milli, WorkloadClass.LATENCY, target, p99, variant, variants
    )


def job(name: str, priority: int = 100, milli: int = 500) -> RuntimeWorkload:
    """A batch job without an SLO."""
    return RuntimeWorkload(f"ns/{name}", priority, milli)


def gpu(
    node: str = "n1",
    index: int = 0,
    *workloads: RuntimeWorkload,
    model: str = "A100-80GB",
    cap: float = 400.0,
    power: float | None = None,
    util: float = 0.5,
    max_clock: int = 1410,
) -> RuntimeGpu:
    """An A100-80GB (100-400 W) by default, drawing `power` (default: 300 W busy, 63 W idle)."""
    if power is None:
        power = 300.0 if workloads else 63.0
    return RuntimeGpu(
        node, index, model, 100.0, 400.0, 400.0, cap, util, power, tuple(workloads), max_clock
    )


def snap(*gpus: RuntimeGpu, pending: tuple = ()) -> RuntimeSnapshot:  # type: ignore[type-arg]
    return RuntimeSnapshot(tuple(gpus), tuple(pending))


def with_p99(s: RuntimeSnapshot, **p99: float | None) -> RuntimeSnapshot:
    """The same snapshot with new p99s, by workload name: with_p99(s, a=150.0)."""

    def fix(w: RuntimeWorkload) -> RuntimeWorkload:
        name = w.key.split("/", 1)[1]
        return replace(w, p99_ms=p99[name]) if name in p99 else w

    return RuntimeSnapshot(
        tuple(replace(g, workloads=tuple(fix(w) for w in g.workloads)) for g in s.gpus), s.pending
    )


class Loop:
    """Runs plan_runtime pass after pass, carrying memory, as the controller does; the GPUs
    report the caps the plans set (the agent obeys at once)."""

    def __init__(self, config: RuntimeConfig | None = None, now: float = 1000.0) -> None:
        self.config = config or RuntimeConfig()
        self.memory = RuntimeMemory()
        self.now = now
        self.caps: dict[tuple[str, int], float] = {}

    def step(self, s: RuntimeSnapshot, dt: float = 0.0) -> RuntimePlan:
        self.now += dt
        s = RuntimeSnapshot(
            tuple(replace(g, power_cap_w=self.caps.get(g.key, g.power_cap_w)) for g in s.gpus),
            s.pending,
        )
        plan, self.memory = plan_runtime(s, self.memory, self.now, self.config)
        for a in plan.actions:
            if isinstance(a, SetPowerCap):
                self.caps[(a.node, a.gpu)] = a.watts
            elif isinstance(a, ResetPowerCap):
                self.caps.pop((a.node, a.gpu), None)
        return plan

    def run(self, s: RuntimeSnapshot, seconds: float, period: float = 5.0) -> list[RuntimePlan]:
        plans = []
        for _ in range(int(seconds / period)):
            plans.append(self.step(s, period))
        return plans


class _OnGpu(Protocol):
    @property
    def node(self) -> str: ...

    @property
    def gpu(self) -> int: ...


A = TypeVar("A", bound=_OnGpu)
T = TypeVar("T")


def gpu_settings(
    actions: Iterable[RuntimeAction],
    set_type: type[A],
    reset_type: type[_OnGpu],
    value: Callable[[A], T],
) -> list[tuple[str, T | None]]:
    """One GPU setting's actions in order, as ("node/gpu", value): None where it is reset."""
    out: list[tuple[str, T | None]] = []
    for a in actions:
        if isinstance(a, set_type):
            out.append((f"{a.node}/{a.gpu}", value(a)))
        elif isinstance(a, reset_type):
            out.append((f"{a.node}/{a.gpu}", None))
    return out
