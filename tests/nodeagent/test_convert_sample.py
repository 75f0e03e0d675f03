"""The agent's GPU sample is the wire message's fields, by name, so its conversion is generic."""

from dataclasses import fields

from nodeagent.convert import gpu_sample_pb
from nodeagent.gpu.base import UNAVAILABLE, GpuSample
from sdk.pb.aiwo.v1 import types_pb2


def test_the_agent_sample_has_the_wire_fields() -> None:
    assert [f.name for f in fields(GpuSample)] == [
        f.name for f in types_pb2.GpuSample.DESCRIPTOR.fields
    ]


def test_a_sample_converts_field_for_field_and_unsigned_unavailable_becomes_zero() -> None:
    sample = GpuSample(
        index=3, utilization_pct=50.0, memory_used_mib=UNAVAILABLE, power_w=300.5,
        power_limit_w=700.0, temperature_c=61.0, sm_clock_mhz=1980,
        throttle_reasons=UNAVAILABLE, ecc_uncorrected=2, xid_events=(79,),
    )  # fmt: skip
    assert gpu_sample_pb(sample) == types_pb2.GpuSample(
        index=3, utilization_pct=50.0, memory_used_mib=-1, power_w=300.5, power_limit_w=700.0,
        temperature_c=61.0, sm_clock_mhz=1980, throttle_reasons=0, ecc_uncorrected=2,
        xid_events=[79],
    )  # fmt: skip
