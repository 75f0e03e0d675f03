"""The permission table's pure parts: what a request needs, and who lacks it."""

from __future__ import annotations

import contextlib

import grpc
import pytest
import structlog
from prometheus_client import REGISTRY

from controlplane.app.server import Controller
from controlplane.auth.interceptor import bearer_token
from controlplane.auth.permissions import (
    NODES_CORDON,
    NODES_READ,
    ROLE_PERMISSIONS,
    RULES,
    WORKLOADS_READ,
    Need,
    Rule,
    Scope,
    audit_object,
    denial,
    need_for,
)
from sdk.pb.aiwo.v1 import admin_pb2, auth_pb2, node_pb2, workload_pb2
from tests.controlplane.agentsim import node_info
from tests.security.conftest import Credentials, Stubs, bearer

ADMIN = "/aiwo.v1.AdminService/"


def test_roles_nest_as_documented() -> None:
    viewer, operator, admin = (ROLE_PERMISSIONS[r] for r in ("viewer", "operator", "admin"))
    assert viewer < operator < admin
    assert NODES_CORDON not in viewer and NODES_CORDON in operator
    assert NODES_READ not in ROLE_PERMISSIONS["workload"]
    assert all(not p.startswith("tokens.") for p in operator)


@pytest.mark.parametrize(
    ("method", "request_", "need"),
    [
        ("Cordon", admin_pb2.CordonRequest(name="n"), Need(NODES_CORDON)),
        ("ListWorkloads", admin_pb2.ListWorkloadsRequest(), Need(WORKLOADS_READ, None, True)),
        ("ListWorkloads", admin_pb2.ListWorkloadsRequest(namespace="a"), Need(WORKLOADS_READ, "a")),
        ("Describe", admin_pb2.DescribeRequest(kind="node"), Need(NODES_READ)),
        ("Describe", admin_pb2.DescribeRequest(kind="workload"), Need(WORKLOADS_READ, "default")),
        ("Explain", admin_pb2.ExplainRequest(name="w", namespace="b"), Need(WORKLOADS_READ, "b")),
        (
            "ListEvents",
            admin_pb2.ListEventsRequest(object="workload/a/web"),
            Need("events.read", "a"),
        ),
        # "workload/a" would also match "workload/ab/...": it counts as every namespace.
        ("ListEvents", admin_pb2.ListEventsRequest(object="workload/a"), Need("events.read", "*")),
        ("ListEvents", admin_pb2.ListEventsRequest(), Need("events.read", "*")),
    ],
)
def test_what_a_request_needs(method: str, request_: object, need: Need) -> None:
    assert need_for(RULES[ADMIN + method], request_) == need  # type: ignore[arg-type]


def test_denials_name_what_is_missing() -> None:
    assert denial("viewer", ("*",), Need(NODES_CORDON)) == (
        "missing permission nodes.cordon (role viewer)"
    )
    assert denial("workload", ("a",), Need(WORKLOADS_READ, "a")) is None
    assert "namespace 'b'" in (denial("workload", ("a",), Need(WORKLOADS_READ, "b")) or "")
    assert "every namespace" in (denial("viewer", ("a",), Need("events.read", "*")) or "")
    assert denial("nobody", ("*",), Need(NODES_READ)) is not None  # unknown roles get nothing


def test_audit_objects() -> None:
    assert audit_object(RULES[ADMIN + "Cordon"], admin_pb2.CordonRequest(name="n1")) == "node/n1"
    register = workload_pb2.RegisterWorkloadRequest(name="web", namespace="a")
    assert audit_object(RULES["/aiwo.v1.WorkloadService/Register"], register) == "workload/a/web"
    node = node_pb2.RegisterNodeRequest(node=node_info("gpu-7", 1))
    assert audit_object(RULES["/aiwo.v1.NodeService/Register"], node) == "node/gpu-7"
    assert audit_object(Rule("x", Scope.CLUSTER), auth_pb2.WhoAmIRequest()) == ""


@pytest.mark.parametrize(
    ("metadata", "token"),
    [
        ((("authorization", "Bearer abc"),), "abc"),
        ((("authorization", "bearer  abc "),), "abc"),
        ((("authorization", "Basic abc"),), None),
        ((("authorization", "Bearer"),), None),
        ((("x-other", "Bearer abc"),), None),
        (None, None),
    ],
)
def test_bearer_tokens_are_read_from_metadata(
    metadata: tuple[tuple[str, str], ...] | None, token: str | None
) -> None:
    assert bearer_token(metadata) == token


async def test_a_state_change_is_audited_with_who_what_and_result(
    secure_controller: Controller, secure_stubs: Stubs, credentials: Credentials
) -> None:
    admin = bearer(credentials.admin_token)
    operator = await secure_stubs.auth.CreateToken(
        auth_pb2.CreateTokenRequest(role="operator"), metadata=admin
    )
    labels = {"code": "PERMISSION_DENIED", "service": "aiwo.v1.WorkloadService"}
    refused_before = REGISTRY.get_sample_value("aiwo_auth_refusals_total", labels) or 0.0
    with structlog.testing.capture_logs() as logs:
        with contextlib.suppress(grpc.aio.AioRpcError):
            await secure_stubs.admin.Cordon(
                admin_pb2.CordonRequest(name="no-such-node"), metadata=bearer(operator.token)
            )
        with contextlib.suppress(grpc.aio.AioRpcError):
            await secure_stubs.workload.Deregister(
                workload_pb2.DeregisterWorkloadRequest(name="web", namespace="a"),
                metadata=bearer(operator.token),
            )
    audits = [e for e in logs if e["event"] == "audit"]
    operator_id = f"token:{operator.info.id}"
    assert [(a["method"], a["object"], a["principal"], a["role"], a["result"]) for a in audits] == [
        ("Cordon", "node/no-such-node", operator_id, "operator", "NOT_FOUND"),
        ("Deregister", "workload/a/web", operator_id, "operator", "PERMISSION_DENIED"),
    ]
    assert audits[1]["detail"] == "missing permission workloads.write (role operator)"
    assert REGISTRY.get_sample_value("aiwo_auth_refusals_total", labels) == refused_before + 1
