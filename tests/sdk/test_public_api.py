"""The public names of `sdk`, pinned: changing this list is a deliberate API change."""

from __future__ import annotations

import inspect

import sdk

PUBLIC = {
    # clients
    "Client",
    "WorkloadHandle",
    "AttachSession",
    "DirectiveHandler",
    "SyncClient",
    "SyncWorkloadHandle",
    "SyncAttachSession",
    "AdminClient",
    "SyncAdminClient",
    "ClientConfig",
    "ReconnectPolicy",
    "TlsConfig",
    # bearer tokens (AuthService)
    "AuthClient",
    "SyncAuthClient",
    "TokenInfo",
    "make_spec",
    # value types
    "Resources",
    "SloHints",
    "ModelVariant",
    "LaunchSpec",
    "RestartPolicy",
    "WorkloadSpec",
    "Workload",
    "WorkloadPhase",
    "Placement",
    "Node",
    "NodeInfo",
    "NodeState",
    "Gpu",
    "GpuInfo",
    "GpuBackend",
    "GpuBackendStatus",
    "Event",
    "Directive",
    "DirectiveKind",
    "Candidate",
    "Explanation",
    "ServiceExplanation",
    "Description",
    "ClusterInfo",
    # migrations, drains, logs
    "Migration",
    "MigrationPhase",
    "MigrationStep",
    "DrainResult",
    "WorkloadLogs",
    # services (ServingService)
    "Service",
    "ServiceSpec",
    "ServiceDemand",
    "Replica",
    "ReplicaState",
    "ScaleRecord",
    "make_service_spec",
    # priorities
    "PRIORITY_CLASSES",
    "DEFAULT_PRIORITY_CLASS",
    "resolve_priority",
    # where the controller is
    "state_dir",
    "read_cluster_file",
    "resolve_target",
    "resolve_target_with_source",
    # credentials the CLI writes and reads (tokens, the certificate authority)
    "ROLES",
    "FileToken",
    "TokenError",
    "new_file_token",
    "read_token_file",
    "read_tokens_file",
    "write_secret",
    "write_tokens_file",
    "Issued",
    "PkiLayout",
    "create_ca",
    "init_pki",
    "issue",
    "issue_client",
    "issue_gateway",
    "issue_node",
    "load_ca",
    "revoke_certificate",
    "write_pem",
    # errors
    "AiwoError",
    "ControllerUnavailable",
    "InvalidArgument",
    "NotFound",
    "AlreadyExists",
    "Unschedulable",
    "Conflict",
    "PermissionDenied",
    "Unauthenticated",
    "PlacementTimeout",
    # text: counts in messages ("1 node", "2 nodes"), SLO targets ("TTFT 500 ms")
    "plural",
    "targets_text",
}


def test_public_names_are_pinned() -> None:
    assert set(sdk.__all__) == PUBLIC
    assert len(sdk.__all__) == len(PUBLIC)  # no duplicates


def test_public_names_come_from_private_modules() -> None:
    for name in sdk.__all__:
        obj = getattr(sdk, name)
        module = getattr(obj, "__module__", None)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert module is not None and module.startswith("sdk._"), (name, module)


def test_errors_share_one_base() -> None:
    for name in PUBLIC:
        obj = getattr(sdk, name)
        if inspect.isclass(obj) and issubclass(obj, Exception):
            assert issubclass(obj, sdk.AiwoError), name


def test_the_cli_stands_on_the_public_sdk() -> None:
    # The CLI is an application of the SDK: it imports no private sdk._module.
    import pathlib
    import re

    cli = pathlib.Path(sdk.__file__).parent / "cli"
    private = re.compile(r"^\s*(from|import)\s+sdk\._\w+", re.MULTILINE)
    offenders = [p.name for p in sorted(cli.glob("*.py")) if private.search(p.read_text())]
    assert offenders == []
