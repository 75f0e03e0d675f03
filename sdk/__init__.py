"""aiwo's Python SDK: register workloads, learn placements, report metrics, follow directives.

    from sdk import Client

    client = await Client.connect()            # --controller / AIWO_CONTROLLER / `aiwo up`
    handle = await client.register("web", priority="high", resources=Resources(gpus=1))
    placement = await handle.wait_placed(timeout=30)

The public names are re-exported here from private modules; tests/sdk/test_public_api.py
pins the list, so a change to it is a deliberate one.
"""

from sdk._admin import AdminClient
from sdk._attach import AttachSession, DirectiveHandler
from sdk._auth import AuthClient, SyncAuthClient, TokenInfo
from sdk._client import Client, WorkloadHandle, make_spec
from sdk._config import ClientConfig, ReconnectPolicy, TlsConfig
from sdk._errors import (
    AiwoError,
    AlreadyExists,
    Conflict,
    ControllerUnavailable,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PlacementTimeout,
    Unauthenticated,
    Unschedulable,
)
from sdk._migration import (
    DrainResult,
    Migration,
    MigrationPhase,
    MigrationStep,
    WorkloadLogs,
)
from sdk._priority import DEFAULT_PRIORITY_CLASS, PRIORITY_CLASSES, resolve_priority
from sdk._serving import (
    Replica,
    ReplicaState,
    ScaleRecord,
    Service,
    ServiceDemand,
    ServiceSpec,
    make_service_spec,
)
from sdk._sync import SyncAdminClient, SyncAttachSession, SyncClient, SyncWorkloadHandle
from sdk._target import read_cluster_file, resolve_target, state_dir
from sdk._types import (
    Candidate,
    ClusterInfo,
    Description,
    Directive,
    DirectiveKind,
    Event,
    Explanation,
    Gpu,
    GpuBackend,
    GpuBackendStatus,
    GpuInfo,
    LaunchSpec,
    ModelVariant,
    Node,
    NodeInfo,
    NodeState,
    Placement,
    Resources,
    RestartPolicy,
    SloHints,
    Workload,
    WorkloadPhase,
    WorkloadSpec,
)

__all__ = [
    "DEFAULT_PRIORITY_CLASS",
    "PRIORITY_CLASSES",
    "AdminClient",
    "AiwoError",
    "AlreadyExists",
    "AttachSession",
    "AuthClient",
    "Candidate",
    "Client",
    "ClientConfig",
    "ClusterInfo",
    "Conflict",
    "ControllerUnavailable",
    "Description",
    "Directive",
    "DirectiveHandler",
    "DirectiveKind",
    "DrainResult",
    "Event",
    "Explanation",
    "Gpu",
    "GpuBackend",
    "GpuBackendStatus",
    "GpuInfo",
    "InvalidArgument",
    "LaunchSpec",
    "Migration",
    "MigrationPhase",
    "MigrationStep",
    "ModelVariant",
    "Node",
    "NodeInfo",
    "NodeState",
    "NotFound",
    "PermissionDenied",
    "Placement",
    "PlacementTimeout",
    "ReconnectPolicy",
    "Replica",
    "ReplicaState",
    "Resources",
    "RestartPolicy",
    "ScaleRecord",
    "Service",
    "ServiceDemand",
    "ServiceSpec",
    "SloHints",
    "SyncAdminClient",
    "SyncAttachSession",
    "SyncAuthClient",
    "SyncClient",
    "SyncWorkloadHandle",
    "TlsConfig",
    "TokenInfo",
    "Unauthenticated",
    "Unschedulable",
    "Workload",
    "WorkloadHandle",
    "WorkloadLogs",
    "WorkloadPhase",
    "WorkloadSpec",
    "make_service_spec",
    "make_spec",
    "read_cluster_file",
    "resolve_priority",
    "resolve_target",
    "state_dir",
]
