"""The runtime core's output: typed actions, each with a structured reason (numbers, not prose).

How each action maps onto the wire (proto/sdk/pb/aiwo/v1/types.proto), so the controller's
integration is mechanical. Commands go to the agent of `node`; directives to the workload's
SDK stream. `reason.message` goes into Directive.reason and the event message; `reason.fields`
into Event.fields (as strings); `reason.code` is the event kind.

| action | wire message |
|---|---|
| DirectiveThrottle(workload, factor) | Directive{kind: DIRECTIVE_KIND_THROTTLE, workload, factor} |
| DirectiveUnthrottle(workload) | Directive{kind: DIRECTIVE_KIND_UNTHROTTLE, workload} |
| SetPowerCap(node, gpu, watts) | Command{set_power_limit: SetPowerLimit{gpu_index: gpu, watts}} |
| ResetPowerCap(node, gpu) | Command{reset_power_limit: ResetPowerLimit{gpu_index: gpu}} |
| LockClocks(node, gpu, min_mhz, max_mhz) | Command{lock_clocks: LockClocks{gpu_index, min_mhz, max_mhz}} |
| ResetClocks(node, gpu) | Command{reset_clocks: ResetClocks{gpu_index: gpu}} |
| ThrottleProcess(workload, node, cpu_fraction) | Command{throttle_workload: ThrottleWorkload{workload, cpu_fraction, freeze: cpu_fraction == 0}} |
| UnthrottleProcess(workload, node) | Command{throttle_workload: ThrottleWorkload{workload, cpu_fraction: 1.0}} |
| Migrate(workload, away_from, target) | Directive{kind: DIRECTIVE_KIND_MIGRATE, workload, node: target node, gpus: [target gpu]} (CHECKPOINT first where the app supports it), then the controller unplaces the workload and the placement core re-places it off `away_from` (target is a hint that had room in this snapshot) |
| SwitchVariant(workload, variant) | Directive{kind: DIRECTIVE_KIND_SWITCH_VARIANT, workload, variant}; the controller then records Workload.variant and the variant's resources in the placement |
"""  # noqa: E501

from __future__ import annotations

from dataclasses import dataclass

from controlplane.optimizer.runtime.types import GpuKey

Number = float | int | str


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an action was taken: a constant code, one line for people, and the numbers.

    code: snake_case event kind, e.g. "slo_relief_escalated", "energy_cap_knee".
    fields: (name, value) pairs, e.g. (("p99_ms", 212.0), ("target_ms", 150.0)).
    """

    code: str
    message: str
    fields: tuple[tuple[str, Number], ...] = ()

    def field(self, name: str) -> Number | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class DirectiveThrottle:
    workload: str
    factor: float  # fraction of normal load (batch size / concurrency) to keep, 0..1
    reason: Reason


@dataclass(frozen=True, slots=True)
class DirectiveUnthrottle:
    workload: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class SetPowerCap:
    node: str
    gpu: int
    watts: float
    reason: Reason


@dataclass(frozen=True, slots=True)
class ResetPowerCap:
    node: str
    gpu: int
    reason: Reason


@dataclass(frozen=True, slots=True)
class LockClocks:
    node: str
    gpu: int
    min_mhz: int
    max_mhz: int
    reason: Reason


@dataclass(frozen=True, slots=True)
class ResetClocks:
    node: str
    gpu: int
    reason: Reason


@dataclass(frozen=True, slots=True)
class ThrottleProcess:
    workload: str
    node: str
    cpu_fraction: float  # 0..1 of one core; 0 = freeze
    reason: Reason


@dataclass(frozen=True, slots=True)
class UnthrottleProcess:
    workload: str
    node: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class Migrate:
    workload: str
    away_from: GpuKey
    reason: Reason
    target: GpuKey | None = None  # a GPU with room in this snapshot; the placement core decides


@dataclass(frozen=True, slots=True)
class SwitchVariant:
    workload: str
    variant: str
    reason: Reason


RuntimeAction = (
    DirectiveThrottle
    | DirectiveUnthrottle
    | SetPowerCap
    | ResetPowerCap
    | LockClocks
    | ResetClocks
    | ThrottleProcess
    | UnthrottleProcess
    | Migrate
    | SwitchVariant
)

GPU_ACTIONS = (SetPowerCap, ResetPowerCap, LockClocks, ResetClocks)
WORKLOAD_ACTIONS = (
    DirectiveThrottle,
    DirectiveUnthrottle,
    ThrottleProcess,
    UnthrottleProcess,
    Migrate,
    SwitchVariant,
)


def action_target(action: RuntimeAction) -> str:
    """What an action acts on, for logs and rate bounds: "gpu/node/3" or "workload/ns/name"."""
    if isinstance(action, GPU_ACTIONS):
        return f"gpu/{action.node}/{action.gpu}"
    return f"workload/{action.workload}"
