"""The pure half of UpdateService (controlplane/rpc/service_update.py): what an update's
event says changed, and the `aiwo scale` flags that turn one spec into another."""

from __future__ import annotations

import pytest

from controlplane.rpc.service_update import scale_flags, update_summary
from sdk.pb.aiwo.v1 import serving_pb2
from tests.controlplane.test_serving import service_spec


def service(spec: serving_pb2.ServiceSpec, desired: int) -> serving_pb2.Service:
    return serving_pb2.Service(name="chat", namespace="default", spec=spec, desired=desired)


@pytest.mark.parametrize(
    ("before", "after", "summary"),
    [
        (service(service_spec(1, 3), 2), service(service_spec(1, 2), 2), "replicas 1-3 -> 1-2"),
        (
            service(service_spec(1, 3), 3),
            service(service_spec(1, 2), 2),
            "replicas 1-3 -> 1-2, desired 3 -> 2",
        ),
        (
            service(service_spec(1, 3), 1),
            service(service_spec(1, 3, ttft_ms=500, tpot_ms=50), 1),
            "SLO targets - -> TTFT 500 ms, TPOT 50 ms",
        ),
        (
            service(service_spec(1, 3, p99_latency_ms=900), 1),
            service(service_spec(0, 3), 1),
            "replicas 1-3 -> 0-3; SLO targets p99 900 ms -> -",
        ),
        (service(service_spec(1, 3), 1), service(service_spec(1, 3), 1), "unchanged"),
    ],
)
def test_update_summary_says_only_what_moved(
    before: serving_pb2.Service, after: serving_pb2.Service, summary: str
) -> None:
    assert update_summary(before, after) == summary


def with_command(spec: serving_pb2.ServiceSpec, *command: str) -> serving_pb2.ServiceSpec:
    spec.template.launch.command[:] = list(command)
    return spec


@pytest.mark.parametrize(
    ("existing", "wanted", "flags"),
    [
        (service_spec(1, 3), service_spec(1, 4), "--max 4"),
        (service_spec(1, 3), service_spec(0, 2), "--min 0 --max 2"),
        (service_spec(1, 3), service_spec(1, 3, ttft_ms=1500.5), "--ttft-ms 1500.5"),
        (
            service_spec(1, 3, tpot_ms=80),
            service_spec(1, 3, p99_latency_ms=900),
            "--tpot-ms 0 --p99-ms 900",
        ),
        (service_spec(1, 3), service_spec(1, 3), None),  # the same: nothing to change
        (service_spec(1, 3), service_spec(1, 4, gpus=2), None),  # resources: re-create
        (service_spec(1, 3), with_command(service_spec(1, 4), "python", "other.py"), None),
    ],
)
def test_scale_flags_only_for_what_scale_can_change(
    existing: serving_pb2.ServiceSpec, wanted: serving_pb2.ServiceSpec, flags: str | None
) -> None:
    assert scale_flags(existing, wanted) == flags
