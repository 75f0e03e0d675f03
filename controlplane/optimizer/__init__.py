"""The pure optimizer core: no grpc, etcd or asyncio; time and randomness come in as arguments.

plan = optimize(snapshot, now, config)
"""

from controlplane.optimizer.config import OptimizerConfig
from controlplane.optimizer.errors import ConfigError
from controlplane.optimizer.explain import explain
from controlplane.optimizer.fit import can_ever_fit
from controlplane.optimizer.optimize import optimize
from controlplane.optimizer.policy import POLICY_NAMES
from controlplane.optimizer.runtime import (
    RuntimeConfig,
    RuntimeMemory,
    RuntimePlan,
    RuntimeSnapshot,
    plan_runtime,
)
from controlplane.optimizer.types import (
    Assignment,
    Candidate,
    Explanation,
    GpuView,
    NodeView,
    Placement,
    Plan,
    Preemption,
    Request,
    Snapshot,
    Unschedulable,
    WorkloadView,
)

__all__ = [
    "POLICY_NAMES",
    "Assignment",
    "Candidate",
    "ConfigError",
    "Explanation",
    "GpuView",
    "NodeView",
    "OptimizerConfig",
    "Placement",
    "Plan",
    "Preemption",
    "Request",
    "RuntimeConfig",
    "RuntimeMemory",
    "RuntimePlan",
    "RuntimeSnapshot",
    "Snapshot",
    "Unschedulable",
    "WorkloadView",
    "can_ever_fit",
    "explain",
    "optimize",
    "plan_runtime",
]
