"""Agent-side values to wire messages: the one place the agent touches _pb2 for telemetry."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from nodeagent.gpu.base import BackendState, BackendStatus, GpuInfo, GpuSample
from sdk.pb.aiwo.v1 import types_pb2

_STATUS = {
    BackendStatus.OK: types_pb2.GPU_BACKEND_STATUS_OK,
    BackendStatus.LIBRARY_MISSING: types_pb2.GPU_BACKEND_STATUS_LIBRARY_MISSING,
    BackendStatus.PERMISSION_DENIED: types_pb2.GPU_BACKEND_STATUS_PERMISSION_DENIED,
    BackendStatus.NO_DEVICES: types_pb2.GPU_BACKEND_STATUS_NO_DEVICES,
    BackendStatus.DEGRADED: types_pb2.GPU_BACKEND_STATUS_DEGRADED,
    BackendStatus.ERROR: types_pb2.GPU_BACKEND_STATUS_ERROR,
}


def backend_pb(state: BackendState) -> types_pb2.GpuBackend:
    return types_pb2.GpuBackend(
        kind=state.kind,
        status=_STATUS[state.status],
        detail=state.detail,
        driver_version=state.driver_version,
    )


def gpu_info_pb(info: GpuInfo) -> types_pb2.GpuInfo:
    return types_pb2.GpuInfo(
        index=info.index,
        uuid=info.uuid,
        model=info.model,
        memory_total_mib=max(info.memory_total_mib, 0),
        power_limit_min_w=info.power_limit_min_w,
        power_limit_max_w=info.power_limit_max_w,
        power_limit_default_w=info.power_limit_default_w,
        idle_power_w=info.idle_power_w,
        max_sm_clock_mhz=info.max_sm_clock_mhz,
        nvlink_peers=list(info.nvlink_peers),
    )


# The agent's GpuSample has the wire message's fields, by name (a test pins it): the list of
# them is the proto's, not spelled out again here.
_SAMPLE_FIELDS = tuple(f.name for f in fields(GpuSample))
# Unsigned on the wire: a backend's UNAVAILABLE (-1) cannot be carried, so it becomes 0.
_UNSIGNED = frozenset(
    f.name
    for f in types_pb2.GpuSample.DESCRIPTOR.fields
    if f.type in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_UINT64) and not f.is_repeated
)


def gpu_sample_pb(sample: GpuSample) -> types_pb2.GpuSample:
    values: dict[str, Any] = {name: getattr(sample, name) for name in _SAMPLE_FIELDS}
    for name in _UNSIGNED:
        values[name] = max(int(values[name]), 0)
    values["xid_events"] = list(sample.xid_events)
    return types_pb2.GpuSample(**values)


def net_sample_pb(sample: Any) -> types_pb2.NetSample:
    return types_pb2.NetSample(
        interface=sample.interface,
        rx_bytes_per_s=sample.rx_bytes_per_s,
        tx_bytes_per_s=sample.tx_bytes_per_s,
        rx_packets_per_s=sample.rx_packets_per_s,
        tx_packets_per_s=sample.tx_packets_per_s,
        rx_errors=sample.rx_errors,
        tx_errors=sample.tx_errors,
        rx_drops=sample.rx_drops,
        tx_drops=sample.tx_drops,
    )
