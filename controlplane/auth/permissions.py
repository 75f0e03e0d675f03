"""Who may call what: permissions, roles, and the method → rule table, as data.

Every RPC the controller serves has exactly one rule here; a method without one is refused
(fail closed), and tests/security generates its role matrix from these tables. Pure: no
grpc, no I/O — `need_for` reads only the request message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from google.protobuf.message import Message

from sdk._tokens import ALL_NAMESPACES

# Permissions. A namespaced one is checked against the token's namespaces too.
CLUSTER_READ = "cluster.read"
NODES_READ = "nodes.read"
NODES_CORDON = "nodes.cordon"
NODES_DRAIN = "nodes.drain"
WORKLOADS_READ = "workloads.read"
WORKLOADS_WRITE = "workloads.write"
WORKLOADS_ATTACH = "workloads.attach"
WORKLOADS_MIGRATE = "workloads.migrate"
WORKLOADS_THROTTLE = "workloads.throttle"
EVENTS_READ = "events.read"
TOKENS_MANAGE = "tokens.manage"
# aiwo-gateway's two streams (GatewayService): every service's endpoints and traffic.
GATEWAY_STREAMS = "gateway.streams"

ALL_PERMISSIONS = frozenset(
    {
        CLUSTER_READ,
        NODES_READ,
        NODES_CORDON,
        NODES_DRAIN,
        WORKLOADS_READ,
        WORKLOADS_WRITE,
        WORKLOADS_ATTACH,
        WORKLOADS_MIGRATE,
        WORKLOADS_THROTTLE,
        EVENTS_READ,
        TOKENS_MANAGE,
        GATEWAY_STREAMS,
    }
)
_READS = frozenset({CLUSTER_READ, NODES_READ, WORKLOADS_READ, EVENTS_READ})

# nodes.drain, workloads.migrate and workloads.throttle are granted now so that the
# operator RPCs that will carry them need only a rule, not a role change.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": ALL_PERMISSIONS,
    "operator": _READS | {NODES_CORDON, NODES_DRAIN, WORKLOADS_MIGRATE, WORKLOADS_THROTTLE},
    # Only its own namespaces' workloads and their events; no node or cluster views.
    "workload": frozenset({WORKLOADS_READ, WORKLOADS_WRITE, WORKLOADS_ATTACH, EVENTS_READ}),
    "viewer": _READS,
    # aiwo-gateway: its streams and nothing else (it authenticates by its certificate,
    # URI aiwo://gateway/NAME, or by a token of this role).
    "gateway": frozenset({GATEWAY_STREAMS}),
}


class Scope(Enum):
    """Where a rule finds the namespace a call touches."""

    CLUSTER = "cluster"  # none: the permission alone decides
    NAMESPACE = "namespace"  # request.namespace ("default" when empty)
    LIST = "list"  # request.namespace; empty = every namespace, reply filtered to the token's
    DESCRIBE = "describe"  # kind "node" -> nodes.read; kind "workload" -> workloads.read in ns
    EVENTS = "events"  # object "workload/NS/..." -> NS; any other object -> every namespace
    HELLO = "hello"  # streams: the first message's hello.namespace


# Pseudo-permissions for calls a token does not decide.
PUBLIC = "public"  # anyone, even without credentials (health checks)
AUTHENTICATED = "authenticated"  # any valid token (reflection, who-am-I)
NODE_IDENTITY = "node-identity"  # an agent: its certificate must name the node it speaks for


@dataclass(frozen=True)
class Rule:
    permission: str
    scope: Scope = Scope.CLUSTER
    mutating: bool = False  # state-changing: every call is audited with its result
    # Audit object, formatted from the request's fields ("" = the method alone).
    object: str = ""


_ADMIN = "/aiwo.v1.AdminService/"
_WORKLOAD = "/aiwo.v1.WorkloadService/"
_NODE = "/aiwo.v1.NodeService/"
_AUTH = "/aiwo.v1.AuthService/"
_SERVING = "/aiwo.v1.ServingService/"
_GATEWAY = "/aiwo.v1.GatewayService/"
_SERVICE_OBJECT = "service/{namespace}/{name}"
_WORKLOAD_OBJECT = "workload/{namespace}/{name}"

RULES: dict[str, Rule] = {
    _ADMIN + "ListNodes": Rule(NODES_READ),
    _ADMIN + "GetNode": Rule(NODES_READ),
    _ADMIN + "ListGpus": Rule(NODES_READ),
    _ADMIN + "ListWorkloads": Rule(WORKLOADS_READ, Scope.LIST),
    _ADMIN + "ListEvents": Rule(EVENTS_READ, Scope.EVENTS),
    _ADMIN + "Cordon": Rule(NODES_CORDON, mutating=True, object="node/{name}"),
    _ADMIN + "Uncordon": Rule(NODES_CORDON, mutating=True, object="node/{name}"),
    _ADMIN + "Describe": Rule(NODES_READ, Scope.DESCRIBE),
    _ADMIN + "Explain": Rule(WORKLOADS_READ, Scope.NAMESPACE),
    _ADMIN + "ClusterInfo": Rule(CLUSTER_READ),
    _ADMIN + "Migrate": Rule(WORKLOADS_MIGRATE, Scope.NAMESPACE, True, _WORKLOAD_OBJECT),
    _ADMIN + "GetMigration": Rule(WORKLOADS_READ, Scope.NAMESPACE),
    _ADMIN + "ListMigrations": Rule(WORKLOADS_READ, Scope.LIST),
    _ADMIN + "Drain": Rule(NODES_DRAIN, mutating=True, object="node/{name}"),
    # A workload's output is as much its namespace's business as its record.
    _ADMIN + "Logs": Rule(WORKLOADS_READ, Scope.NAMESPACE),
    _WORKLOAD + "Register": Rule(WORKLOADS_WRITE, Scope.NAMESPACE, True, _WORKLOAD_OBJECT),
    _WORKLOAD + "Update": Rule(WORKLOADS_WRITE, Scope.NAMESPACE, True, _WORKLOAD_OBJECT),
    _WORKLOAD + "Deregister": Rule(WORKLOADS_WRITE, Scope.NAMESPACE, True, _WORKLOAD_OBJECT),
    _WORKLOAD + "Get": Rule(WORKLOADS_READ, Scope.NAMESPACE),
    _WORKLOAD + "Attach": Rule(WORKLOADS_ATTACH, Scope.HELLO),
    _SERVING + "CreateService": Rule(WORKLOADS_WRITE, Scope.NAMESPACE, True, _SERVICE_OBJECT),
    _SERVING + "ScaleService": Rule(WORKLOADS_WRITE, Scope.NAMESPACE, True, _SERVICE_OBJECT),
    _SERVING + "UpdateService": Rule(WORKLOADS_WRITE, Scope.NAMESPACE, True, _SERVICE_OBJECT),
    _SERVING + "DeleteService": Rule(WORKLOADS_WRITE, Scope.NAMESPACE, True, _SERVICE_OBJECT),
    _SERVING + "GetService": Rule(WORKLOADS_READ, Scope.NAMESPACE),
    _SERVING + "ListServices": Rule(WORKLOADS_READ, Scope.LIST),
    _GATEWAY + "WatchEndpoints": Rule(GATEWAY_STREAMS),
    _GATEWAY + "ReportTraffic": Rule(GATEWAY_STREAMS),
    _NODE + "Register": Rule(NODE_IDENTITY, mutating=True, object="node/{node.name}"),
    _NODE + "Connect": Rule(NODE_IDENTITY),
    _NODE + "WorkloadCredentials": Rule(NODE_IDENTITY, mutating=True, object="token/{workload}"),
    _AUTH + "CreateToken": Rule(TOKENS_MANAGE, mutating=True, object="token/{role}"),
    _AUTH + "ListTokens": Rule(TOKENS_MANAGE),
    _AUTH + "RevokeToken": Rule(TOKENS_MANAGE, mutating=True, object="token/{id}"),
    _AUTH + "WhoAmI": Rule(AUTHENTICATED),
    "/grpc.health.v1.Health/Check": Rule(PUBLIC),
    "/grpc.health.v1.Health/Watch": Rule(PUBLIC),
    # The API's shape is no secret, but it is nobody's business without a token either.
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": Rule(AUTHENTICATED),
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": Rule(AUTHENTICATED),
}


@dataclass(frozen=True)
class Need:
    """What one call needs: a permission, and the namespace it touches.

    `namespace` None: a cluster-level permission, namespaces do not matter; ALL_NAMESPACES:
    the call reaches every namespace; else one namespace. `filter_reply`: a listing across
    namespaces, answered with only those the caller may see.
    """

    permission: str
    namespace: str | None = None
    filter_reply: bool = False


def need_for(rule: Rule, request: Message) -> Need:
    """The need of one call. For HELLO rules `request` is the stream's first message."""
    scope = rule.scope
    if scope is Scope.CLUSTER:
        return Need(rule.permission)
    if scope is Scope.NAMESPACE:
        return Need(rule.permission, getattr(request, "namespace", "") or "default")
    if scope is Scope.HELLO:
        return Need(rule.permission, request.hello.namespace or "default")  # type: ignore[attr-defined]
    if scope is Scope.LIST:
        namespace = getattr(request, "namespace", "")
        return Need(rule.permission, namespace) if namespace else Need(rule.permission, None, True)
    if scope is Scope.DESCRIBE:
        if getattr(request, "kind", "") == "workload":
            return Need(WORKLOADS_READ, getattr(request, "namespace", "") or "default")
        return Need(NODES_READ)
    if scope is Scope.EVENTS:
        parts = getattr(request, "object", "").split("/")
        # Events are matched by prefix: only "workload/NS/" pins one namespace ("workload/a"
        # would also match "workload/ab/...").
        if len(parts) >= 3 and parts[0] == "workload" and parts[1]:
            return Need(rule.permission, parts[1])
        return Need(rule.permission, ALL_NAMESPACES)
    raise AssertionError(f"unhandled scope {scope}")


def denial(role: str, namespaces: tuple[str, ...], need: Need) -> str | None:
    """None when allowed; else the PERMISSION_DENIED message, naming what is missing."""
    if need.permission not in ROLE_PERMISSIONS.get(role, frozenset()):
        return f"missing permission {need.permission} (role {role})"
    if need.namespace is None or ALL_NAMESPACES in namespaces:
        return None
    if need.namespace == ALL_NAMESPACES:
        return (
            f"missing permission {need.permission} on every namespace "
            f"(this token is limited to {', '.join(namespaces)})"
        )
    if need.namespace not in namespaces:
        return (
            f"missing permission {need.permission} in namespace {need.namespace!r} "
            f"(this token is limited to {', '.join(namespaces)})"
        )
    return None


class _Fields(dict[str, object]):
    """`format_map` over a message's fields: "{node.name}" reads request.node.name."""

    def __init__(self, message: Message) -> None:
        super().__init__()
        self._message = message

    def __missing__(self, key: str) -> object:
        return getattr(self._message, key, "?")


def audit_object(rule: Rule, request: Message | None) -> str:
    if not rule.object or request is None:
        return ""
    try:
        return rule.object.format_map(_Fields(request))
    except (AttributeError, ValueError, KeyError):
        return ""
