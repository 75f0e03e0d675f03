"""Each role can do exactly what the permission table says: a matrix generated from
controlplane/auth/permissions.py, calling every RPC with a token of every role.

The sample requests change nothing when allowed (unknown names, invalid specs), so the
answer to an allowed call is NOT_FOUND, INVALID_ARGUMENT or OK — anything but
PERMISSION_DENIED or UNAUTHENTICATED — and the matrix can run in any order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from controlplane.app.server import Controller
from controlplane.auth.permissions import (
    AUTHENTICATED,
    NODE_IDENTITY,
    PUBLIC,
    ROLE_PERMISSIONS,
    RULES,
    need_for,
)
from sdk.pb.aiwo.v1 import (
    admin_pb2,
    auth_pb2,
    gateway_pb2,
    migration_pb2,
    node_pb2,
    serving_pb2,
    types_pb2,
    workload_pb2,
)
from tests.controlplane.agentsim import node_info
from tests.security.conftest import Credentials, Stubs, bearer

OWN, OTHER = "team-a", "team-b"  # the workload token's namespace, and one it lacks


@dataclass(frozen=True)
class Sample:
    method: str
    request: Message  # for streams: the first message
    stream: bool = False
    client_stream: bool = False  # stream in, one reply out (ReportTraffic)


def _samples(namespace: str) -> list[Sample]:
    admin, workload = "/aiwo.v1.AdminService/", "/aiwo.v1.WorkloadService/"
    serving = "/aiwo.v1.ServingService/"
    bad_spec = types_pb2.WorkloadSpec(resources=types_pb2.Resources(gpus=-1))

    def missing(method: str, request: Callable[..., Message]) -> Sample:
        """A call about a workload or service that is not there, in `namespace`."""
        return Sample(method, request(name="missing", namespace=namespace))

    return [
        Sample(admin + "ListNodes", admin_pb2.ListNodesRequest()),
        Sample(admin + "GetNode", admin_pb2.GetNodeRequest(name="no-such-node")),
        Sample(admin + "ListGpus", admin_pb2.ListGpusRequest()),
        Sample(admin + "ListWorkloads", admin_pb2.ListWorkloadsRequest(namespace=namespace)),
        Sample(admin + "ListWorkloads", admin_pb2.ListWorkloadsRequest()),
        Sample(admin + "ListEvents", admin_pb2.ListEventsRequest(object=f"workload/{namespace}/")),
        Sample(admin + "ListEvents", admin_pb2.ListEventsRequest(object="node/")),
        Sample(admin + "Cordon", admin_pb2.CordonRequest(name="no-such-node")),
        Sample(admin + "Uncordon", admin_pb2.CordonRequest(name="no-such-node")),
        Sample(admin + "Describe", admin_pb2.DescribeRequest(kind="node", name="no-such-node")),
        Sample(
            admin + "Describe",
            admin_pb2.DescribeRequest(kind="workload", name="missing", namespace=namespace),
        ),
        missing(admin + "Explain", admin_pb2.ExplainRequest),
        Sample(admin + "ClusterInfo", admin_pb2.ClusterInfoRequest()),
        missing(admin + "Migrate", admin_pb2.MigrateRequest),
        missing(admin + "GetMigration", admin_pb2.GetMigrationRequest),
        Sample(admin + "ListMigrations", admin_pb2.ListMigrationsRequest(namespace=namespace)),
        Sample(admin + "ListMigrations", admin_pb2.ListMigrationsRequest()),
        Sample(admin + "Drain", admin_pb2.DrainRequest(name="no-such-node")),
        missing(admin + "Logs", admin_pb2.LogsRequest),
        Sample(
            workload + "Register",
            workload_pb2.RegisterWorkloadRequest(name="w", namespace=namespace, spec=bad_spec),
        ),
        missing(workload + "Update", workload_pb2.UpdateWorkloadRequest),
        missing(workload + "Deregister", workload_pb2.DeregisterWorkloadRequest),
        missing(workload + "Get", workload_pb2.GetWorkloadRequest),
        Sample(
            workload + "Attach",
            workload_pb2.AppMessage(
                hello=workload_pb2.AttachHello(name="missing", namespace=namespace)
            ),
            stream=True,
        ),
        Sample(
            serving + "CreateService",
            serving_pb2.CreateServiceRequest(
                name="s", namespace=namespace, spec=serving_pb2.ServiceSpec(min_replicas=-1)
            ),
        ),
        Sample(
            serving + "ScaleService",
            serving_pb2.ScaleServiceRequest(name="missing", namespace=namespace, replicas=1),
        ),
        Sample(
            serving + "UpdateService",
            serving_pb2.UpdateServiceRequest(name="missing", namespace=namespace, max_replicas=2),
        ),
        missing(serving + "DeleteService", serving_pb2.DeleteServiceRequest),
        missing(serving + "GetService", serving_pb2.GetServiceRequest),
        Sample(serving + "ListServices", serving_pb2.ListServicesRequest(namespace=namespace)),
        Sample(serving + "ListServices", serving_pb2.ListServicesRequest()),
        Sample(
            "/aiwo.v1.GatewayService/WatchEndpoints",
            gateway_pb2.WatchEndpointsRequest(gateway="gw"),
            stream=True,
        ),
        Sample(
            "/aiwo.v1.GatewayService/ReportTraffic",
            gateway_pb2.TrafficReport(gateway="gw", time_unix=1.0, interval_s=1.0),
            client_stream=True,
        ),
        Sample(
            "/aiwo.v1.NodeService/Register",
            node_pb2.RegisterNodeRequest(node=node_info("node-a", 1)),
        ),
        Sample(
            "/aiwo.v1.NodeService/Connect",
            node_pb2.AgentMessage(hello=node_pb2.AgentHello(node="node-a")),
            stream=True,
        ),
        Sample(
            "/aiwo.v1.NodeService/WorkloadCredentials",
            node_pb2.WorkloadCredentialsRequest(node="node-a", workload=f"{namespace}/missing"),
        ),
        Sample("/aiwo.v1.AuthService/CreateToken", auth_pb2.CreateTokenRequest(role="nobody")),
        Sample("/aiwo.v1.AuthService/ListTokens", auth_pb2.ListTokensRequest()),
        Sample("/aiwo.v1.AuthService/RevokeToken", auth_pb2.RevokeTokenRequest(id="0" * 12)),
        Sample("/aiwo.v1.AuthService/WhoAmI", auth_pb2.WhoAmIRequest()),
        Sample("/grpc.health.v1.Health/Check", health_pb2.HealthCheckRequest()),
        Sample("/grpc.health.v1.Health/Watch", health_pb2.HealthCheckRequest(), stream=True),
        Sample(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            reflection_pb2.ServerReflectionRequest(list_services=""),
            stream=True,
        ),
        Sample(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            reflection_pb2.ServerReflectionRequest(list_services=""),
            stream=True,
        ),
    ]


ROLES = sorted(ROLE_PERMISSIONS)
TOKEN_NAMESPACES = {"workload": (OWN,)}  # every other role: all namespaces


def expected(role: str, sample: Sample) -> grpc.StatusCode | None:
    """None = allowed; else the refusal code. Restates the rules independently of the
    interceptor: the role's permission set, and the token's namespaces."""
    rule = RULES[sample.method]
    if rule.permission in (PUBLIC, AUTHENTICATED):
        return None
    if rule.permission == NODE_IDENTITY:
        return grpc.StatusCode.UNAUTHENTICATED  # a token is no node certificate
    need = need_for(rule, sample.request)
    namespaces = TOKEN_NAMESPACES.get(role, ("*",))
    allowed = need.permission in ROLE_PERMISSIONS[role] and (
        need.namespace is None or "*" in namespaces or need.namespace in namespaces
    )
    return None if allowed else grpc.StatusCode.PERMISSION_DENIED


async def _call(channel: grpc.aio.Channel, sample: Sample, token: str) -> grpc.StatusCode:
    metadata = bearer(token)
    payload = sample.request.SerializeToString()
    try:
        if sample.client_stream:
            unary = channel.stream_unary(sample.method, response_deserializer=bytes)

            async def one() -> object:
                yield payload

            await unary(one(), metadata=metadata, timeout=5)
            return grpc.StatusCode.OK
        if not sample.stream:
            call = channel.unary_unary(sample.method, response_deserializer=bytes)
            await call(payload, metadata=metadata, timeout=5)
            return grpc.StatusCode.OK
        if sample.method.endswith(("/Watch", "/WatchEndpoints")):
            stream = channel.unary_stream(sample.method, response_deserializer=bytes)(
                payload, metadata=metadata, timeout=5
            )
            await asyncio.wait_for(stream.read(), 5)
            stream.cancel()
            return grpc.StatusCode.OK
        bidi = channel.stream_stream(sample.method, response_deserializer=bytes)(
            metadata=metadata, timeout=5
        )
        try:
            await bidi.write(payload)
        except grpc.aio.AioRpcError:
            # The server may refuse before our first message is sent; the write then fails
            # with whatever the transport saw (even INTERNAL): the call's own status counts.
            return await bidi.code()
        try:
            await asyncio.wait_for(bidi.read(), 1.0)
        except TimeoutError:
            pass  # still open: it was let in (a refused stream ends at once)
        bidi.cancel()
        return grpc.StatusCode.OK
    except grpc.aio.AioRpcError as error:
        return error.code()


def test_every_served_method_has_a_rule_and_a_sample() -> None:
    served = {
        f"/{service.full_name}/{method.name}"
        for module in (admin_pb2, auth_pb2, gateway_pb2, node_pb2, serving_pb2, workload_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert served - set(RULES) == set(), "methods without an access rule"
    sampled = {s.method for s in _samples(OWN)}
    assert set(RULES) - sampled == set(), "rules the role matrix does not exercise"


@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix(
    role: str, secure_controller: Controller, secure_stubs: Stubs, credentials: Credentials
) -> None:
    reply = await secure_stubs.auth.CreateToken(
        auth_pb2.CreateTokenRequest(role=role, namespaces=list(TOKEN_NAMESPACES.get(role, ()))),
        metadata=bearer(credentials.admin_token),
        timeout=5,
    )
    mismatches = []
    for namespace in (OWN, OTHER):
        for sample in _samples(namespace):
            want = expected(role, sample)
            got = await _call(secure_stubs.channel, sample, reply.token)
            refused = got in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
            if (want is None and refused) or (want is not None and got != want):
                mismatches.append(
                    f"{sample.method} ns={namespace}: want {(want and want.name) or 'allowed'}, "
                    f"got {got.name}"
                )
    assert mismatches == []


async def test_a_denial_names_the_missing_permission(
    secure_stubs: Stubs, credentials: Credentials
) -> None:
    viewer = await secure_stubs.auth.CreateToken(
        auth_pb2.CreateTokenRequest(role="viewer"), metadata=bearer(credentials.admin_token)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await secure_stubs.admin.Cordon(
            admin_pb2.CordonRequest(name="node-a"), metadata=bearer(viewer.token)
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.details() == "missing permission nodes.cordon (role viewer)"

    workload = await secure_stubs.auth.CreateToken(
        auth_pb2.CreateTokenRequest(role="workload", namespaces=[OWN]),
        metadata=bearer(credentials.admin_token),
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await secure_stubs.workload.Get(
            workload_pb2.GetWorkloadRequest(name="web", namespace=OTHER),
            metadata=bearer(workload.token),
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "workloads.read in namespace 'team-b'" in (caught.value.details() or "")


async def test_a_workload_token_lists_only_its_namespaces(
    secure_controller: Controller, secure_stubs: Stubs, credentials: Credentials
) -> None:
    admin = bearer(credentials.admin_token)
    for namespace in (OWN, OTHER):
        await secure_stubs.workload.Register(
            workload_pb2.RegisterWorkloadRequest(
                name="web", namespace=namespace, spec=types_pb2.WorkloadSpec()
            ),
            metadata=admin,
        )
    token = await secure_stubs.auth.CreateToken(
        auth_pb2.CreateTokenRequest(role="workload", namespaces=[OWN]), metadata=admin
    )
    listed = await secure_stubs.admin.ListWorkloads(
        admin_pb2.ListWorkloadsRequest(), metadata=bearer(token.token)
    )
    assert [(w.namespace, w.name) for w in listed.workloads] == [(OWN, "web")]
    # Paged, it sees the same, and no token names a workload it may not see.
    paged = await secure_stubs.admin.ListWorkloads(
        admin_pb2.ListWorkloadsRequest(page_size=1), metadata=bearer(token.token)
    )
    assert [(w.namespace, w.name) for w in paged.workloads] == [(OWN, "web")]
    assert paged.next_page_token == ""
    everything = await secure_stubs.admin.ListWorkloads(
        admin_pb2.ListWorkloadsRequest(), metadata=admin
    )
    assert {w.namespace for w in everything.workloads} == {OWN, OTHER}


async def test_a_workload_token_lists_only_its_namespaces_migrations(
    secure_controller: Controller, secure_stubs: Stubs, credentials: Credentials
) -> None:
    for namespace in (OWN, OTHER):
        # The cache as a watch would fill it: the filter is what is under test.
        secure_controller.migrations.cache.apply_local(
            f"{namespace}/web", migration_pb2.Migration(workload=f"{namespace}/web")
        )
    token = await secure_stubs.auth.CreateToken(
        auth_pb2.CreateTokenRequest(role="workload", namespaces=[OWN]),
        metadata=bearer(credentials.admin_token),
    )
    listed = await secure_stubs.admin.ListMigrations(
        admin_pb2.ListMigrationsRequest(), metadata=bearer(token.token)
    )
    assert [m.workload for m in listed.migrations] == [f"{OWN}/web"]
