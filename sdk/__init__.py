"""aiwo's Python SDK: register workloads, learn placements, report metrics, follow directives.

    from sdk import Client

    client = await Client.connect()            # --controller / AIWO_CONTROLLER / `aiwo up`
    handle = await client.register("web", priority="high", resources=Resources(gpus=1))
    placement = await handle.wait_placed(timeout=30)

The public names are re-exported here from private modules; tests/sdk/test_public_api.py
pins the list, so a change to it is a deliberate one.
"""

from typing import TYPE_CHECKING, Any

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
from sdk._target import read_cluster_file, resolve_target, resolve_target_with_source, state_dir
from sdk._text import plural, targets_text
from sdk._tls import read_token_file
from sdk._tokens import (
    ROLES,
    FileToken,
    TokenError,
    new_file_token,
    read_tokens_file,
    write_secret,
    write_tokens_file,
)
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
    ServiceExplanation,
    SloHints,
    Workload,
    WorkloadPhase,
    WorkloadSpec,
)

if TYPE_CHECKING:
    from sdk._pki import (
        Issued,
        PkiLayout,
        create_ca,
        init_pki,
        issue,
        issue_client,
        issue_gateway,
        issue_node,
        load_ca,
        write_pem,
    )
    from sdk._pki import revoke as revoke_certificate

# The certificate authority's tools load `cryptography`, which a client rarely needs: they
# are imported on first use (PEP 562), so `import sdk` stays light.
_PKI = {
    "Issued": "Issued",
    "PkiLayout": "PkiLayout",
    "create_ca": "create_ca",
    "init_pki": "init_pki",
    "issue": "issue",
    "issue_client": "issue_client",
    "issue_gateway": "issue_gateway",
    "issue_node": "issue_node",
    "load_ca": "load_ca",
    "write_pem": "write_pem",
    "revoke_certificate": "revoke",
}


def __getattr__(name: str) -> Any:
    if name in _PKI:
        from sdk import _pki

        return getattr(_pki, _PKI[name])
    raise AttributeError(f"module 'sdk' has no attribute {name!r}")


__all__ = [
    "DEFAULT_PRIORITY_CLASS",
    "PRIORITY_CLASSES",
    "ROLES",
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
    "FileToken",
    "Gpu",
    "GpuBackend",
    "GpuBackendStatus",
    "GpuInfo",
    "InvalidArgument",
    "Issued",
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
    "PkiLayout",
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
    "ServiceExplanation",
    "ServiceSpec",
    "SloHints",
    "SyncAdminClient",
    "SyncAttachSession",
    "SyncAuthClient",
    "SyncClient",
    "SyncWorkloadHandle",
    "TlsConfig",
    "TokenError",
    "TokenInfo",
    "Unauthenticated",
    "Unschedulable",
    "Workload",
    "WorkloadHandle",
    "WorkloadLogs",
    "WorkloadPhase",
    "WorkloadSpec",
    "create_ca",
    "init_pki",
    "issue",
    "issue_client",
    "issue_gateway",
    "issue_node",
    "load_ca",
    "make_service_spec",
    "make_spec",
    "new_file_token",
    "plural",
    "read_cluster_file",
    "read_token_file",
    "read_tokens_file",
    "resolve_priority",
    "resolve_target",
    "resolve_target_with_source",
    "revoke_certificate",
    "state_dir",
    "targets_text",
    "write_pem",
    "write_secret",
    "write_tokens_file",
]
