"""What the runtime core remembers between passes: immutable in, immutable out.

`plan_runtime` takes a `RuntimeMemory` and returns the next one; the controller keeps it in
memory (a new leader starts from `RuntimeMemory()`: relief it did not apply is not undone
until the GPUs report default caps — docs/runtime.md, "Leader change"). Inside one pass the
passes edit a `MemoryBuilder` (plain dicts) and it is frozen at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from controlplane.optimizer.runtime.types import GpuKey

ACTION_WINDOW_S = 60.0  # the rate bound counts actions over this window


@dataclass(frozen=True, slots=True)
class Relief:
    """The ladder rungs applied to one neighbour, in order, and why.

    rungs: e.g. ("throttle", "power_cap"); undoing pops the last one.
    gpus: where the neighbour ran when relief was applied (a move resets it).
    protects: the SLO workloads it was applied for.
    """

    rungs: tuple[str, ...]
    gpus: tuple[GpuKey, ...]
    changed_at: float
    protects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GpuControl:
    """What the runtime last set on one GPU.

    cap_w None = the default limit; owner: "guard", "energy", "idle" or "" (nothing set).
    lifted_at: when an SLO last forced the cap up (the energy pass backs off after it).
    floor_w: the energy pass never caps below this (the cap in force when an SLO broke).
    """

    cap_w: float | None = None
    clock_lock_mhz: tuple[int, int] | None = None
    owner: str = ""
    changed_at: float = -1e18
    lifted_at: float | None = None
    floor_w: float = 0.0


@dataclass(frozen=True, slots=True)
class VariantSwitch:
    """A workload moved off its usual variant: to give it back when capacity returns."""

    original: str
    current: str
    switched_at: float
    for_workload: str = ""


def _frozen(mapping: Mapping) -> Mapping:  # type: ignore[type-arg]
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class RuntimeMemory:
    """relief: per neighbour; gpus: per GPU; slack_since: per SLO workload, since when its p99
    has been below relax_ratio x target; pressure_since: per pending workload, since when it has
    been pending; no_pressure_since: since when nothing has been pending; variants: per switched
    workload; migrated_at: per workload; action_times: times of the actions of the last minute;
    relax_backoff: per neighbour, (level, when relief was last undone): relief that had to come
    back soon after it was undone is undone more slowly next time (x 2 ** level).
    unowned: per (workload, "process" or "directive") throttle in force that no relief holds
    (a process throttle its node reports, a cooperative one its app reports), (since when
    seen so, when last undone).
    """

    relief: Mapping[str, Relief] = field(default_factory=dict)
    gpus: Mapping[GpuKey, GpuControl] = field(default_factory=dict)
    slack_since: Mapping[str, float] = field(default_factory=dict)
    pressure_since: Mapping[str, float] = field(default_factory=dict)
    no_pressure_since: float | None = None
    variants: Mapping[str, VariantSwitch] = field(default_factory=dict)
    migrated_at: Mapping[str, float] = field(default_factory=dict)
    action_times: tuple[float, ...] = ()
    relax_backoff: Mapping[str, tuple[int, float]] = field(default_factory=dict)
    unowned: Mapping[tuple[str, str], tuple[float, float | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "relief", "gpus", "slack_since", "pressure_since", "variants", "migrated_at",
            "unowned",
        ):  # fmt: skip
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "action_times", tuple(self.action_times))


@dataclass
class MemoryBuilder:
    """A mutable copy of `RuntimeMemory` for the duration of one pass."""

    relief: dict[str, Relief]
    gpus: dict[GpuKey, GpuControl]
    slack_since: dict[str, float]
    pressure_since: dict[str, float]
    no_pressure_since: float | None
    variants: dict[str, VariantSwitch]
    migrated_at: dict[str, float]
    action_times: list[float]
    relax_backoff: dict[str, tuple[int, float]]
    unowned: dict[tuple[str, str], tuple[float, float | None]]

    @classmethod
    def of(cls, memory: RuntimeMemory, now: float) -> MemoryBuilder:
        return cls(
            relief=dict(memory.relief),
            gpus=dict(memory.gpus),
            slack_since=dict(memory.slack_since),
            pressure_since=dict(memory.pressure_since),
            no_pressure_since=memory.no_pressure_since,
            variants=dict(memory.variants),
            migrated_at=dict(memory.migrated_at),
            action_times=[t for t in memory.action_times if now - t < ACTION_WINDOW_S],
            relax_backoff=dict(memory.relax_backoff),
            unowned=dict(memory.unowned),
        )

    def gpu(self, key: GpuKey) -> GpuControl:
        return self.gpus.get(key, GpuControl())

    def freeze(self) -> RuntimeMemory:
        return RuntimeMemory(
            relief=self.relief,
            gpus=self.gpus,
            slack_since=self.slack_since,
            pressure_since=self.pressure_since,
            no_pressure_since=self.no_pressure_since,
            variants=self.variants,
            migrated_at=self.migrated_at,
            action_times=tuple(self.action_times),
            relax_backoff=self.relax_backoff,
            unowned=self.unowned,
        )
