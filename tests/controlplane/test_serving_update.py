"""UpdateService on a real controller (real etcd, real grpc.aio): a live service's replica
range and SLO targets change in one write, the driver and autoscaler follow, and bad input
is refused naming the field with nothing written."""

from __future__ import annotations

import math

import grpc
import pytest

from controlplane.app.server import Controller
from sdk.pb.aiwo.v1 import serving_pb2, serving_pb2_grpc
from tests.controlplane.test_serving import create, service_spec
from tests.helpers import assert_eventually


@pytest.fixture
def serving(stubs) -> serving_pb2_grpc.ServingServiceStub:  # type: ignore[no-untyped-def]
    return serving_pb2_grpc.ServingServiceStub(stubs.channel)


def update(**fields: object) -> serving_pb2.UpdateServiceRequest:
    return serving_pb2.UpdateServiceRequest(name="chat", namespace="default", **fields)  # type: ignore[arg-type]


async def stored(controller: Controller) -> serving_pb2.Service:
    kv = await controller.store.get(controller.keys.service("default/chat"))
    assert kv is not None
    return serving_pb2.Service.FromString(kv.value)


async def test_bounds_and_targets_change_and_the_driver_follows(
    controller: Controller, serving: serving_pb2_grpc.ServingServiceStub
) -> None:
    created = await serving.CreateService(create("chat", service_spec(1, 3, ttft_ms=2000)))
    updated = await serving.UpdateService(update(min_replicas=2, max_replicas=5, ttft_ms=1500))
    assert (updated.spec.min_replicas, updated.spec.max_replicas) == (2, 5)
    assert updated.spec.template.slo.ttft_ms == 1500
    assert updated.spec.template.slo.tpot_ms == 0  # not given: unchanged
    assert updated.desired == 2 and updated.generation > created.generation
    assert updated.last_scale.from_replicas == 1 and updated.last_scale.to_replicas == 2
    assert (await stored(controller)).spec == updated.spec
    # The replica driver creates the second replica, with the new target in its spec.
    await assert_eventually(lambda: controller.state.workloads.get("default/chat-1") is not None)
    replica = controller.state.workloads.get("default/chat-1")
    assert replica is not None and replica.spec.slo.ttft_ms == 1500
    events = controller.state.events_for("service/default/chat", 50)
    # The event says what moved, from what to what; "-" for no target, as the CLI prints.
    messages = [e.message for e in events if e.kind == "service_updated"]
    assert messages == [
        "default/chat: replicas 1-3 -> 2-5, desired 1 -> 2;"
        " SLO targets TTFT 2000 ms -> TTFT 1500 ms"
    ]

    # Only what is given changes; the same values again write nothing (no second event).
    def updates() -> int:
        events = controller.state.events_for("service/default/chat", 50)
        return sum(e.kind == "service_updated" for e in events)

    await serving.UpdateService(update(max_replicas=5))
    assert updates() == 1
    targets = await serving.UpdateService(update(tpot_ms=80, ttft_ms=0))
    assert (targets.spec.template.slo.ttft_ms, targets.spec.template.slo.tpot_ms) == (0, 80)
    assert (targets.spec.min_replicas, targets.spec.max_replicas) == (2, 5)

    # Lowering max below desired brings desired down at once.
    lowered = await serving.UpdateService(update(min_replicas=0, max_replicas=1))
    assert lowered.desired == 1 and lowered.last_scale.reason == "replica range changed to 0-1"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"min_replicas": 4}, "min_replicas"),  # above the stored max 3
        ({"min_replicas": 5, "max_replicas": 4}, "min_replicas"),
        ({"max_replicas": 0}, "max_replicas"),
        ({"max_replicas": 65}, "max_replicas"),  # over the documented limit (64)
        ({"min_replicas": -1}, "min_replicas"),
        ({"ttft_ms": -1.0}, "ttft_ms"),
        ({"tpot_ms": math.nan}, "tpot_ms"),
        ({"p99_latency_ms": math.inf}, "p99_latency_ms"),
        ({"max_replicas": 5, "ttft_ms": -5.0}, "ttft_ms"),  # one bad field: nothing changes
        ({}, "update"),
        ({"max_replicas": 4, "expected_generation": -1}, "expected_generation"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    controller: Controller,
    serving: serving_pb2_grpc.ServingServiceStub,
    fields: dict[str, object],
    field: str,
) -> None:
    await serving.CreateService(create("chat", service_spec(2, 3, ttft_ms=2000)))
    before = await stored(controller)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await serving.UpdateService(update(**fields))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(f"{field}:"), caught.value.details()
    # The replica driver may rewrite the record meanwhile (its replicas), never the spec.
    assert (await stored(controller)).spec == before.spec


async def test_min_above_the_stored_max_says_which(
    serving: serving_pb2_grpc.ServingServiceStub,
) -> None:
    await serving.CreateService(create("chat", service_spec(1, 3)))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await serving.UpdateService(update(max_replicas=2, min_replicas=3))
    assert caught.value.details() == "min_replicas: must be at most max_replicas (2), got 3"
    await serving.UpdateService(update(min_replicas=2))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await serving.UpdateService(update(max_replicas=1))
    assert caught.value.details() == "max_replicas: must be at least min_replicas (2), got 1"


async def test_a_pin_outside_the_new_range_and_a_stale_generation_are_refused(
    controller: Controller, serving: serving_pb2_grpc.ServingServiceStub
) -> None:
    created = await serving.CreateService(create("chat", service_spec(1, 4)))
    await serving.ScaleService(
        serving_pb2.ScaleServiceRequest(name="chat", namespace="default", replicas=4)
    )

    async def settled() -> serving_pb2.Service | None:
        # Its 4 replicas created and waiting (no node): the driver has no more to write.
        record = await stored(controller)
        return record if len(record.replicas) == 4 and record.message else None

    before = await assert_eventually(settled)
    with pytest.raises(grpc.aio.AioRpcError) as pinned:
        await serving.UpdateService(update(max_replicas=3))
    assert pinned.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert pinned.value.details().startswith("max_replicas: service default/chat is pinned at 4")
    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await serving.UpdateService(update(max_replicas=5, expected_generation=created.generation))
    assert stale.value.code() == grpc.StatusCode.ABORTED
    assert stale.value.details().startswith("expected_generation:")
    after = await stored(controller)
    assert after.spec == before.spec and after.pinned == 4
    current = await serving.UpdateService(
        update(max_replicas=5, expected_generation=after.generation)
    )
    assert current.spec.max_replicas == 5 and current.pinned == 4


async def test_an_unknown_service_is_not_found(
    serving: serving_pb2_grpc.ServingServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await serving.UpdateService(update(max_replicas=2))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_re_create_that_differs_only_in_range_or_targets_names_the_scale_command(
    serving: serving_pb2_grpc.ServingServiceStub,
) -> None:
    # A new user runs `aiwo serve` again with another --replicas: the answer must say how to
    # change it in place now that `aiwo scale --min/--max` exists, not "delete it first".
    await serving.CreateService(create("chat", service_spec(1, 3, ttft_ms=2000), "team-a"))
    with pytest.raises(grpc.aio.AioRpcError) as ranged:
        await serving.CreateService(create("chat", service_spec(1, 4, tpot_ms=50), "team-a"))
    assert ranged.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert ranged.value.details() == (
        "service team-a/chat exists with a different spec; change it in place with"
        " `aiwo scale chat -n team-a --max 4 --ttft-ms 0 --tpot-ms 50`"
    )
    other = service_spec(1, 3, ttft_ms=2000)
    other.template.launch.command[:] = ["python", "-m", "other"]
    with pytest.raises(grpc.aio.AioRpcError) as commanded:
        await serving.CreateService(create("chat", other, "team-a"))
    assert commanded.value.details() == (
        "service team-a/chat exists with a different spec; to change it, delete it first"
        " (`aiwo deregister chat -n team-a`) and create it again"
    )
    got = await serving.GetService(serving_pb2.GetServiceRequest(name="chat", namespace="team-a"))
    assert got.spec == service_spec(1, 3, ttft_ms=2000)  # neither refusal changed it


async def test_the_pinned_refusal_gives_a_command_that_works_in_its_namespace(
    serving: serving_pb2_grpc.ServingServiceStub,
) -> None:
    await serving.CreateService(create("web", service_spec(1, 2), "team-a"))
    await serving.ScaleService(
        serving_pb2.ScaleServiceRequest(name="web", namespace="team-a", replicas=2)
    )
    with pytest.raises(grpc.aio.AioRpcError) as pinned:
        await serving.UpdateService(
            serving_pb2.UpdateServiceRequest(name="web", namespace="team-a", max_replicas=1)
        )
    assert pinned.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "(`aiwo scale web -n team-a --replicas N`)" in pinned.value.details()
