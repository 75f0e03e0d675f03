"""ServingService on a real controller (real etcd, real grpc.aio): create, get, list, scale,
delete, and bad input that is refused naming the field with nothing written."""

from __future__ import annotations

import math

import grpc
import pytest

from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import serving_pb2, serving_pb2_grpc, types_pb2
from tests.controlplane.conftest import Stubs
from tests.helpers import assert_eventually


def service_spec(
    min_replicas: int = 1, max_replicas: int = 3, gpus: int = 1, **slo: float
) -> serving_pb2.ServiceSpec:
    return serving_pb2.ServiceSpec(
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        template=types_pb2.WorkloadSpec(
            resources=types_pb2.Resources(gpus=gpus),
            slo=types_pb2.SloHints(**slo),
            launch=types_pb2.LaunchSpec(command=["python", "-m", "server"]),
        ),
    )


def create(name: str, spec: serving_pb2.ServiceSpec, namespace: str = "default"):  # type: ignore[no-untyped-def]
    return serving_pb2.CreateServiceRequest(name=name, namespace=namespace, spec=spec)


@pytest.fixture
def serving(stubs: Stubs) -> serving_pb2_grpc.ServingServiceStub:
    return serving_pb2_grpc.ServingServiceStub(stubs.channel)


async def test_create_get_list_scale_delete(
    controller: Controller, serving: serving_pb2_grpc.ServingServiceStub
) -> None:
    spec = service_spec(1, 3, ttft_ms=2000)
    created = await serving.CreateService(create("chat", spec))
    assert (created.name, created.namespace, created.desired) == ("chat", "default", 1)
    assert created.spec == spec and created.generation == 1
    # Idempotent for the same spec; a different spec is ALREADY_EXISTS.
    again = await serving.CreateService(create("chat", spec))
    assert again.created_unix == created.created_unix
    with pytest.raises(grpc.aio.AioRpcError) as exists:
        await serving.CreateService(create("chat", service_spec(1, 4)))
    assert exists.value.code() == grpc.StatusCode.ALREADY_EXISTS

    await serving.CreateService(create("embed", service_spec(0, 2), namespace="team-a"))
    listed = await serving.ListServices(serving_pb2.ListServicesRequest())
    assert [(s.namespace, s.name) for s in listed.services] == [
        ("default", "chat"),
        ("team-a", "embed"),
    ]
    only = await serving.ListServices(serving_pb2.ListServicesRequest(namespace="team-a"))
    assert [s.name for s in only.services] == ["embed"]

    # The driver creates the first replica as a managed workload (no node yet: pending).
    async def one_replica() -> serving_pb2.Service:
        got = await serving.GetService(
            serving_pb2.GetServiceRequest(name="chat", namespace="default")
        )
        assert [r.workload for r in got.replicas] == ["chat-0"]
        assert got.replicas[0].state == serving_pb2.REPLICA_STATE_PENDING
        return got

    await assert_eventually(one_replica)
    workload = controller.state.workloads.get("default/chat-0")
    assert workload is not None
    assert workload.spec.service == "chat" and workload.spec.launch.serve
    assert workload.spec.launch.health_path == "/healthz"
    assert workload.spec.launch.env["AIWO_REPLICA"] == "0"
    assert workload.spec.launch.restart_policy == types_pb2.RESTART_POLICY_ON_FAILURE

    pinned = await serving.ScaleService(
        serving_pb2.ScaleServiceRequest(name="chat", namespace="default", replicas=3)
    )
    assert pinned.pinned == 3 and pinned.desired == 3
    assert pinned.last_scale.from_replicas == 1 and pinned.last_scale.to_replicas == 3
    await assert_eventually(
        lambda: (
            {f"default/chat-{i}" for i in range(3)} <= set(dict(controller.state.workloads.items()))
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as out_of_range:
        await serving.ScaleService(
            serving_pb2.ScaleServiceRequest(name="chat", namespace="default", replicas=4)
        )
    assert out_of_range.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert out_of_range.value.details().startswith("replicas:")
    auto = await serving.ScaleService(
        serving_pb2.ScaleServiceRequest(name="chat", namespace="default", auto=True)
    )
    assert not auto.HasField("pinned")

    # Back to min_replicas (autoscaled without traffic), then deleted: replicas never ready
    # drain at once, and the record goes with the last one.
    await serving.DeleteService(serving_pb2.DeleteServiceRequest(name="chat", namespace="default"))

    def gone() -> bool:
        workloads = {k for k, _ in controller.state.workloads.items()}
        return controller.state.services.get("default/chat") is None and not any(
            k.startswith("default/chat-") for k in workloads
        )

    await assert_eventually(gone)
    _, kvs = await controller.store.list_prefix(controller.keys.service("default/"))
    assert kvs == []
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await serving.GetService(serving_pb2.GetServiceRequest(name="chat", namespace="default"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    kinds = [e.kind for e in controller.state.events_for("service/default/chat", 100)]
    assert {"service_created", "service_scaled", "service_deleting", "service_deleted"} <= set(
        kinds
    )


def _bad(**changes: object) -> serving_pb2.ServiceSpec:
    spec = service_spec(1, 3)
    for path, value in changes.items():
        target: object = spec
        *parents, leaf = path.split("__")
        for parent in parents:
            target = getattr(target, parent)
        if isinstance(value, list):
            getattr(target, leaf)[:] = value
        else:
            setattr(target, leaf, value)
    return spec


@pytest.mark.parametrize(
    ("name", "spec", "field"),
    [
        ("chat", _bad(min_replicas=4, max_replicas=3), "spec.min_replicas"),
        ("chat", _bad(max_replicas=65), "spec.max_replicas"),
        ("chat", _bad(max_replicas=0, min_replicas=0), "spec.max_replicas"),
        ("chat", _bad(min_replicas=-1), "spec.min_replicas"),
        ("chat", _bad(template__slo__ttft_ms=-1.0), "spec.template.slo.ttft_ms"),
        ("chat", _bad(template__slo__tpot_ms=math.nan), "spec.template.slo.tpot_ms"),
        ("chat", _bad(template__slo__p99_latency_ms=math.inf), "spec.template.slo.p99_latency_ms"),
        ("chat", _bad(template__launch__command=[]), "spec.template.launch.command"),
        ("chat", _bad(load_timeout_s=math.nan), "spec.load_timeout_s"),
        ("chat", _bad(drain_grace_s=-5.0), "spec.drain_grace_s"),
        ("chat", _bad(health_path="healthz"), "spec.health_path"),
        ("chat", _bad(template__resources__gpus=-1), "spec.template.resources.gpus"),
        ("chat", _bad(template__service="other"), "spec.template.service"),
        ("Chat", service_spec(), "name"),
        ("c" * 60, service_spec(), "name"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    controller: Controller,
    serving: serving_pb2_grpc.ServingServiceStub,
    name: str,
    spec: serving_pb2.ServiceSpec,
    field: str,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await serving.CreateService(create(name, spec))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(f"{field}:"), caught.value.details()
    _, services = await controller.store.list_prefix(controller.keys.services)
    _, workloads = await controller.store.list_prefix(controller.keys.workloads)
    assert services == [] and workloads == []


async def test_reserved_env_and_missing_spec_are_refused(
    serving: serving_pb2_grpc.ServingServiceStub,
) -> None:
    spec = service_spec()
    spec.template.launch.env["AIWO_PORT"] = "80"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await serving.CreateService(create("chat", spec))
    assert caught.value.details().startswith("spec.template.launch.env['AIWO_PORT']:")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await serving.CreateService(
            serving_pb2.CreateServiceRequest(name="chat", namespace="default")
        )
    assert caught.value.details().startswith("spec:")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await serving.ScaleService(
            serving_pb2.ScaleServiceRequest(name="chat", namespace="default")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("target:")


async def test_explain_and_metrics_describe_a_service(
    controller: Controller, stubs: Stubs, serving: serving_pb2_grpc.ServingServiceStub
) -> None:
    from prometheus_client.core import Metric

    from controlplane.rpc.metrics import ClusterCollector
    from sdk.pb.aiwo.v1 import admin_pb2

    await serving.CreateService(create("chat", service_spec(1, 3)))
    await assert_eventually(lambda: controller.state.workloads.get("default/chat-0") is not None)
    explained = await stubs.admin.Explain(
        admin_pb2.ExplainRequest(name="chat", namespace="default")
    )
    assert explained.summary.startswith("service default/chat has 1 replica, 0 ready; desired 1")
    assert "1 pending" in explained.summary and "waiting for a placement" in explained.summary
    assert any(e.kind == "replica_created" for e in explained.events)

    families: dict[str, Metric] = {m.name: m for m in ClusterCollector(controller.state).collect()}
    samples = {
        (s.labels.get("service"), s.labels.get("state")): s.value
        for s in families["aiwo_service_replicas"].samples
    }
    assert samples[("chat", "pending")] == 1 and samples[("chat", "ready")] == 0
    desired = families["aiwo_service_desired_replicas"].samples
    assert [(s.labels, s.value) for s in desired] == [
        ({"namespace": "default", "service": "chat"}, 1)
    ]


async def test_a_replica_never_takes_the_name_of_another_workload(
    controller: Controller, stubs: Stubs, serving: serving_pb2_grpc.ServingServiceStub
) -> None:
    from sdk.pb.aiwo.v1 import workload_pb2

    mine = await stubs.workload.Register(
        workload_pb2.RegisterWorkloadRequest(
            name="chat-0", namespace="default", spec=types_pb2.WorkloadSpec()
        )
    )
    await serving.CreateService(create("chat", service_spec(1, 3)))
    await assert_eventually(lambda: controller.state.workloads.get("default/chat-1") is not None)
    untouched = controller.state.workloads.get("default/chat-0")
    assert untouched is not None and untouched.uid == mine.uid
    service = controller.state.services.get("default/chat")
    assert service is not None and [r.workload for r in service.replicas] == ["chat-1"]
