"""The runtime core: SLO guard, energy caps and model variants as one pure function.

    plan, memory = plan_runtime(snapshot, memory, now, config)

No grpc, etcd or asyncio; time comes in as an argument. The controller calls it every control
period with a `RuntimeSnapshot` of its caches; aiwo-bench slo calls the same function on
simulated GPUs. actions.py maps every action onto the wire types.
"""

from controlplane.optimizer.runtime.actions import (
    DirectiveThrottle,
    DirectiveUnthrottle,
    LockClocks,
    Migrate,
    Reason,
    ResetClocks,
    ResetPowerCap,
    RuntimeAction,
    SetPowerCap,
    SwitchVariant,
    ThrottleProcess,
    UnthrottleProcess,
    action_target,
)
from controlplane.optimizer.runtime.attribution import (
    add_energy_j,
    attribute_power_w,
    gpu_power_split_w,
)
from controlplane.optimizer.runtime.config import DEFAULT_LADDER, LADDER_STEPS, RuntimeConfig
from controlplane.optimizer.runtime.memory import GpuControl, Relief, RuntimeMemory, VariantSwitch
from controlplane.optimizer.runtime.plan import RuntimePlan, plan_runtime
from controlplane.optimizer.runtime.slo_judge import SloState, SloVerdict
from controlplane.optimizer.runtime.types import (
    GpuKey,
    PendingWork,
    RuntimeGpu,
    RuntimeSnapshot,
    RuntimeWorkload,
    VariantView,
    WorkloadClass,
)

__all__ = [
    "DEFAULT_LADDER",
    "LADDER_STEPS",
    "DirectiveThrottle",
    "DirectiveUnthrottle",
    "GpuControl",
    "GpuKey",
    "LockClocks",
    "Migrate",
    "PendingWork",
    "Reason",
    "Relief",
    "ResetClocks",
    "ResetPowerCap",
    "RuntimeAction",
    "RuntimeConfig",
    "RuntimeGpu",
    "RuntimeMemory",
    "RuntimePlan",
    "RuntimeSnapshot",
    "RuntimeWorkload",
    "SetPowerCap",
    "SloState",
    "SloVerdict",
    "SwitchVariant",
    "ThrottleProcess",
    "UnthrottleProcess",
    "VariantSwitch",
    "VariantView",
    "WorkloadClass",
    "action_target",
    "add_energy_j",
    "attribute_power_w",
    "gpu_power_split_w",
    "plan_runtime",
]
