"""The controller's telemetry store: one representation of a GPU sample (the wire message's
fields), health fields kept, the newest sample read back as it came."""

from controlplane.view.telemetry import FIELDS, NodeTelemetry, TelemetryStore
from sdk.pb.aiwo.v1 import node_pb2, types_pb2


def _report(time_unix: float, *samples: types_pb2.GpuSample) -> node_pb2.TelemetryReport:
    return node_pb2.TelemetryReport(time_unix=time_unix, gpus=list(samples))


def test_the_stored_fields_are_the_wire_samples_numeric_fields() -> None:
    wire = {f.name for f in types_pb2.GpuSample.DESCRIPTOR.fields}
    assert set(FIELDS) == wire - {"index", "xid_events"}
    # The health fields the new-user issue reads must keep flowing into the store.
    assert {"throttle_reasons", "ecc_uncorrected"} <= set(FIELDS)


def test_the_newest_sample_comes_back_as_it_was_sent() -> None:
    series = NodeTelemetry(gpu_count=4, slots=16)
    sent = types_pb2.GpuSample(
        index=2, utilization_pct=61.5, memory_used_mib=40_000, power_w=512.25,
        power_limit_w=700, temperature_c=71, sm_clock_mhz=1755, throttle_reasons=0x4,
        ecc_uncorrected=3, xid_events=[79, 48],
    )  # fmt: skip
    series.add(_report(100.0, types_pb2.GpuSample(index=2, power_w=1)))
    series.add(_report(101.0, sent))
    latest = series.latest(2)
    assert latest is not None
    assert latest == (101.0, sent)
    assert series.latest(0) is None  # never sampled
    assert series.latest(9) is None  # no such GPU


def test_a_gpu_missing_from_the_newest_report_has_no_latest_sample() -> None:
    series = NodeTelemetry(gpu_count=2, slots=16)
    series.add(_report(1.0, types_pb2.GpuSample(index=0), types_pb2.GpuSample(index=1)))
    series.add(_report(2.0, types_pb2.GpuSample(index=1, power_w=5)))
    assert series.latest(0) is None
    latest = series.latest(1)
    assert latest is not None and latest[1].power_w == 5


def test_the_ring_wraps_and_keeps_the_newest() -> None:
    series = NodeTelemetry(gpu_count=1, slots=16)
    for t in range(40):
        series.add(_report(float(t), types_pb2.GpuSample(index=0, power_w=t)))
    latest = series.latest(0)
    assert latest is not None and latest[0] == 39.0 and latest[1].power_w == 39


def test_a_node_whose_gpu_count_changes_gets_a_fresh_buffer() -> None:
    store = TelemetryStore(window_s=60, interval_s=1)
    first = store.ensure("n", 2)
    first.add(_report(1.0, types_pb2.GpuSample(index=1, power_w=3)))
    assert store.ensure("n", 2) is first
    second = store.ensure("n", 4)
    assert second is not first and second.latest(1) is None
