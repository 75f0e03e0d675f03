"""The service types at the boundary: what `make_service_spec` sends, what a Service reads."""

from __future__ import annotations

import pytest

from sdk import (
    InvalidArgument,
    ReplicaState,
    Resources,
    Service,
    SloHints,
    make_service_spec,
)
from sdk import _convert as convert
from sdk.pb.aiwo.v1 import serving_pb2, types_pb2


def test_a_service_spec_launches_replicas_that_serve() -> None:
    spec = make_service_spec(
        ["python", "-m", "srv"], min_replicas=1, max_replicas=4, env={"K": "v"},
        resources=Resources(gpus=1, milli_gpu=500), slo=SloHints(ttft_ms=500, tpot_ms=50),
        health_path="/ready", priority="high",
    )  # fmt: skip
    wire = convert.to_pb(spec)
    assert (wire.min_replicas, wire.max_replicas, wire.health_path) == (1, 4, "/ready")
    launch = wire.template.launch
    assert list(launch.command) == ["python", "-m", "srv"] and dict(launch.env) == {"K": "v"}
    assert launch.serve and launch.health_path == "/ready"
    assert launch.restart_policy == types_pb2.RESTART_POLICY_ON_FAILURE
    assert (wire.template.slo.ttft_ms, wire.template.slo.tpot_ms) == (500, 50)
    assert wire.template.priority_class == "high"
    assert wire.template.resources.milli_gpu == 500


def test_a_bad_priority_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidArgument, match=r"spec\.priority"):
        make_service_spec(["srv"], priority="urgent")


def test_pinned_is_none_unless_set_and_endpoints_are_the_ready_replicas() -> None:
    msg = serving_pb2.Service(name="chat", namespace="shop", desired=2, ready=1)
    msg.replicas.add(workload="chat-0", endpoint="n1:9000", state=serving_pb2.REPLICA_STATE_READY)
    msg.replicas.add(
        workload="chat-1", endpoint="n2:9001", state=serving_pb2.REPLICA_STATE_STARTING
    )
    msg.replicas.add(workload="chat-2", state=serving_pb2.REPLICA_STATE_CRASH_LOOP)
    service = convert.from_pb(Service, msg)
    assert service.pinned is None and service.last_scale is None
    assert service.endpoints == ["n1:9000"]
    assert service.crash_looping == 1
    assert service.replicas[1].state == ReplicaState.STARTING
    assert service.key == "shop/chat"
    msg.pinned = 0  # pinned at zero is not "not pinned"
    msg.last_scale.to_replicas = 2
    pinned = convert.from_pb(Service, msg)
    assert pinned.pinned == 0 and pinned.last_scale is not None
    assert convert.to_pb(pinned).HasField("pinned")
    assert not convert.to_pb(service).HasField("pinned")
