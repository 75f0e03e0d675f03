"""What the agent and app streams accept in the fields that say what is held in force."""

from __future__ import annotations

import pytest

from controlplane.rpc.validation import ValidationError, check_metrics, check_telemetry
from sdk.pb.aiwo.v1 import node_pb2, workload_pb2


def _locks(*locks: tuple[int, int, int]) -> node_pb2.TelemetryReport:
    return node_pb2.TelemetryReport(
        time_unix=1.8e9,
        clock_locks=[
            node_pb2.ClockLock(gpu_index=i, min_mhz=lo, max_mhz=hi) for i, lo, hi in locks
        ],
    )


@pytest.mark.parametrize(
    ("locks", "error"),
    [
        ([(0, 900, 1200), (1, 210, 210)], None),
        ([(2, 900, 1200)], "telemetry.clock_locks[0].gpu_index: no GPU 2 on this node"),
        ([(0, 900, 1200), (0, 900, 1000)], "telemetry.clock_locks[1].gpu_index: GPU 0 twice"),
        ([(0, 0, 1200)], "telemetry.clock_locks[0].min_mhz: must be between 1 and 100000, got 0"),
        ([(0, 1200, 900)], "telemetry.clock_locks[0].max_mhz: must be between 1200 and 100000, "
                           "got 900"),
    ],
)  # fmt: skip
def test_clock_locks(locks: list[tuple[int, int, int]], error: str | None) -> None:
    report = _locks(*locks)
    if error is None:
        check_telemetry(report, gpu_count=2)
        return
    with pytest.raises(ValidationError) as caught:
        check_telemetry(report, gpu_count=2)
    assert str(caught.value) == error


@pytest.mark.parametrize(
    ("factor", "error"),
    [
        (None, None),
        (0.0, None),
        (1.0, None),
        (1.5, "metrics.throttle_factor: must be between 0 and 1, got 1.5"),
        (float("nan"), "metrics.throttle_factor: must be a finite number, got nan"),
    ],
)
def test_throttle_factor(factor: float | None, error: str | None) -> None:
    report = workload_pb2.MetricsReport(latency_ms=[1.0], throttle_factor=factor)
    if error is None:
        check_metrics(report)
        return
    with pytest.raises(ValidationError) as caught:
        check_metrics(report)
    assert str(caught.value) == error
