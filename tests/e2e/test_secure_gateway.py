"""The gateway on a secured local cluster, on real processes: `aiwo up --secure`'s cluster
(mutual TLS, tokens) starts aiwo-gateway with a certificate of its own (URI
aiwo://gateway/gateway) and no token; it learns endpoints and routes a request to a
replica with that identity alone, and the same certificate is refused on an admin RPC and
on a node RPC with PERMISSION_DENIED naming its role — and by etcd, which trusts only a CA
of its own (as it refuses every other certificate of the cluster CA)."""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from sdk import SyncAdminClient
from sdk.cli.local_cluster import ClusterSpec, LocalCluster
from sdk.cli.secure import GATEWAY_NAME, SERVER_NAME, LocalCredentials
from sdk.pb.aiwo.v1 import admin_pb2, admin_pb2_grpc, node_pb2, node_pb2_grpc
from tests.controlplane.agentsim import node_info
from tests.e2e.cluster_helpers import cli, running_cluster, wait_for
from tests.e2e.serving_helpers import LLM_SERVER, request, service_url, wait_settled


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("secure-gateway") / "state"
    spec = ClusterSpec(
        state, nodes=1, gpus_per_node=2, gpu_model="A100-80GB",
        credentials=LocalCredentials.prepare(state, ["node-1"]),
        default_ports=False, gateway=True,
    )  # fmt: skip
    with running_cluster(spec) as running:
        yield running


def _credentials(cluster: LocalCluster) -> LocalCredentials:
    assert cluster.spec.credentials is not None
    return cluster.spec.credentials


def _gateway_channel(cluster: LocalCluster) -> grpc.Channel:
    """What the gateway itself presents: its certificate and key, the cluster's CA."""
    pki = _credentials(cluster).pki
    cert, key = pki.gateway_certs[GATEWAY_NAME]
    creds = grpc.ssl_channel_credentials(
        pki.ca_cert.read_bytes(), key.read_bytes(), cert.read_bytes()
    )
    options = [("grpc.ssl_target_name_override", SERVER_NAME)]
    return grpc.secure_channel(cluster.controller_address, creds, options)


def test_the_gateway_runs_with_its_own_certificate_and_no_token(cluster: LocalCluster) -> None:
    credentials = _credentials(cluster)
    [gateway] = [p for p in cluster.procs if p.role == "gateway"]
    argv = Path(f"/proc/{gateway.pid}/cmdline").read_bytes().split(b"\0")
    environ = Path(f"/proc/{gateway.pid}/environ").read_bytes()
    cert, key = credentials.pki.gateway_certs[GATEWAY_NAME]
    assert str(cert).encode() in argv and str(key).encode() in argv
    for other in (credentials.pki.client_cert, credentials.admin_token_file):
        # Not the CLI's certificate, not the admin token file: not as an argument, not in
        # its environment (AIWO_TLS_CERT, AIWO_TOKEN_FILE), and no token either.
        assert not any(str(other).encode() in arg for arg in argv)
        assert str(other).encode() not in environ
    assert credentials.admin_token_file.read_bytes().strip() not in environ


def test_the_gateway_routes_a_request_to_a_replica(cluster: LocalCluster) -> None:
    cli(cluster, "serve", "echo", "--replicas", "1-1", "--milli-gpu", "250", "--", *LLM_SERVER)
    with SyncAdminClient.connect(
        cluster.controller_address, config=_credentials(cluster).admin_config()
    ) as admin:
        wait_settled(admin, "echo", 1, 90, "the replica is ready")
    status, body = request(service_url(cluster, "echo"), {"prompt_tokens": 8, "max_tokens": 4})
    assert status == 200, body[:300]
    # The controller knew the gateway by its certificate.
    log = (cluster.log_dir / "controller.log").read_text(errors="replace")
    assert "endpoints_watch_opened" in log and f"gateway={GATEWAY_NAME}" in log


def test_the_gateway_certificate_is_refused_on_admin_and_node_rpcs(cluster: LocalCluster) -> None:
    token = _credentials(cluster).admin_token_file.read_text().strip()
    with _gateway_channel(cluster) as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        # With the admin token beside it too: the certificate says who is calling.
        for metadata in ((), (("authorization", f"Bearer {token}"),)):
            with pytest.raises(grpc.RpcError) as refused:
                admin.ListNodes(admin_pb2.ListNodesRequest(), metadata=metadata, timeout=10)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "(role gateway)" in (refused.value.details() or "")
        with pytest.raises(grpc.RpcError) as refused:
            node_pb2_grpc.NodeServiceStub(channel).Register(
                node_pb2.RegisterNodeRequest(node=node_info("node-1", 2)), timeout=10
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "role gateway" in (refused.value.details() or "")
    # Both refusals were audited, naming the gateway.
    log_path = cluster.log_dir / "controller.log"
    wait_for(
        lambda: log_path.read_text(errors="replace").count(f"gateway:{GATEWAY_NAME}") >= 3,
        10,
        "refusals audited",
    )


def test_etcd_refuses_every_certificate_of_the_cluster_ca(cluster: LocalCluster) -> None:
    """The gateway's, a node's, and the CLI's (which agents hand to managed workloads):
    none of them can reach etcd, where the whole cluster's state is. The controllers and
    `aiwo cluster status` use certificates from etcd's own CA."""
    credentials = _credentials(cluster)
    pki = credentials.pki
    etcd = cluster.etcd_endpoints[0].split("//")[-1]
    health = f"https://{etcd}/health"
    context = _with(ssl.create_default_context(cafile=credentials.etcd_dir / "ca.pem"),
                    credentials.etcd_dir / "cli")  # fmt: skip
    with urllib.request.urlopen(health, timeout=5, context=context) as reply:
        assert b"true" in reply.read()  # what `aiwo cluster status` asks, with etcd's CA
    cluster_ca = [
        pki.gateway_certs[GATEWAY_NAME],
        pki.node_certs["node-1"],
        (pki.client_cert, pki.client_key),
    ]
    for cert, key in cluster_ca:
        refused = ssl.create_default_context(cafile=credentials.etcd_dir / "ca.pem")
        refused.check_hostname = False
        refused.load_cert_chain(cert, key)
        with pytest.raises(OSError):  # the handshake fails: unknown CA
            urllib.request.urlopen(health, timeout=5, context=refused).read()


def _with(context: ssl.SSLContext, stem: Path) -> ssl.SSLContext:
    context.check_hostname = False  # etcd's certificate names localhost
    context.load_cert_chain(f"{stem}.pem", f"{stem}-key.pem")
    return context
