"""The autoscaler's pure core: no grpc, etcd or asyncio; time comes in as an argument.

plan = plan_scale(snapshot, memory, now, config)   (memory is the caller's, and learns)
"""

from controlplane.optimizer.autoscale.config import AutoscaleConfig
from controlplane.optimizer.autoscale.memory import AutoscaleMemory, ServiceMemory
from controlplane.optimizer.autoscale.plan import plan_scale
from controlplane.optimizer.autoscale.types import (
    ReplicaState,
    ReplicaView,
    ScaleDecision,
    ScalePlan,
    ScaleSnapshot,
    ServiceTargets,
    ServiceView,
    TrafficSample,
)

__all__ = [
    "AutoscaleConfig",
    "AutoscaleMemory",
    "ReplicaState",
    "ReplicaView",
    "ScaleDecision",
    "ScalePlan",
    "ScaleSnapshot",
    "ServiceMemory",
    "ServiceTargets",
    "ServiceView",
    "TrafficSample",
    "plan_scale",
]
