"""The one place where generated protobuf messages meet the SDK's dataclasses.

The dataclasses in `_types` use the message's field names, so the conversion is driven by
the message descriptor: scalars copy, enums map through their short names, nested
messages recurse. tests/sdk/test_convert.py pins that every dataclass covers exactly its
message's fields, so a field added to the proto fails a test instead of silently vanishing.
The workload stream's messages are built here too; the admin and auth clients build their
requests from the typed generated classes themselves, so each call's types are checked.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import time
import types
import typing
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, TypeVar

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.message import Message

from sdk import _migration as mig
from sdk import _serving as sv
from sdk import _types as t
from sdk.pb.aiwo.v1 import admin_pb2, migration_pb2, serving_pb2, types_pb2, workload_pb2

T = TypeVar("T")

# dataclass -> the message it mirrors
MESSAGES: dict[type, type[Message]] = {
    t.GpuBackend: types_pb2.GpuBackend,
    t.GpuInfo: types_pb2.GpuInfo,
    t.NodeInfo: types_pb2.NodeInfo,
    t.Node: types_pb2.Node,
    t.Gpu: types_pb2.Gpu,
    t.Resources: types_pb2.Resources,
    t.SloHints: types_pb2.SloHints,
    t.ModelVariant: types_pb2.ModelVariant,
    t.LaunchSpec: types_pb2.LaunchSpec,
    t.WorkloadSpec: types_pb2.WorkloadSpec,
    t.Workload: types_pb2.Workload,
    t.Event: types_pb2.Event,
    t.Directive: types_pb2.Directive,
    t.Candidate: admin_pb2.Candidate,
    t.Explanation: admin_pb2.Explanation,
    t.ServiceExplanation: admin_pb2.ServiceExplanation,
    t.Description: admin_pb2.DescribeResponse,
    t.ClusterInfo: admin_pb2.ClusterInfoResponse,
    mig.MigrationStep: migration_pb2.MigrationStep,
    mig.Migration: migration_pb2.Migration,
    mig.DrainResult: admin_pb2.DrainResponse,
    sv.ServiceSpec: serving_pb2.ServiceSpec,
    sv.ScaleRecord: serving_pb2.ScaleRecord,
    sv.Replica: serving_pb2.Replica,
    sv.Service: serving_pb2.Service,
    sv.ServiceDemand: serving_pb2.ServiceDemand,
}

# Python enum -> proto enum descriptor
ENUMS: dict[type[enum.StrEnum], EnumDescriptor] = {
    t.NodeState: types_pb2.NodeState.DESCRIPTOR,
    t.GpuBackendStatus: types_pb2.GpuBackendStatus.DESCRIPTOR,
    t.RestartPolicy: types_pb2.RestartPolicy.DESCRIPTOR,
    t.WorkloadPhase: types_pb2.WorkloadPhase.DESCRIPTOR,
    t.DirectiveKind: types_pb2.DirectiveKind.DESCRIPTOR,
    mig.MigrationPhase: migration_pb2.MigrationPhase.DESCRIPTOR,
    sv.ReplicaState: serving_pb2.ReplicaState.DESCRIPTOR,
}


# ---------------------------------------------------------------- enums


def _enum_prefix(descriptor: EnumDescriptor) -> str:
    # Proto style prefixes every value with the enum's name: NodeState -> NODE_STATE_.
    return re.sub(r"(?<!^)(?=[A-Z])", "_", descriptor.name).upper() + "_"


def short_enum_name(descriptor: EnumDescriptor, full_name: str) -> str:
    """`NODE_STATE_NOT_READY` -> "not_ready"."""
    return full_name.removeprefix(_enum_prefix(descriptor)).lower()


@cache
def _enum_tables(cls: type[enum.StrEnum]) -> tuple[dict[int, Any], dict[Any, int]]:
    descriptor = ENUMS[cls]
    from_number = {v.number: cls(short_enum_name(descriptor, v.name)) for v in descriptor.values}
    return from_number, {member: number for number, member in from_number.items()}


def enum_from_pb(cls: type[T], number: int) -> T:
    from_number, _ = _enum_tables(cls)  # type: ignore[arg-type]
    # A newer controller may send a value this SDK does not know: show it as unspecified
    # rather than failing the whole call.
    return typing.cast(T, from_number.get(number, from_number[0]))


def enum_to_pb(member: enum.StrEnum) -> int:
    _, to_number = _enum_tables(type(member))
    return to_number[member]


# ---------------------------------------------------------------- messages


def _is_map(fd: Any) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def _is_repeated(fd: Any) -> bool:
    return bool(fd.is_repeated)


def _class_in(hint: Any) -> Any:
    """The class a field holds: X for `X`, `X | None` and `Sequence[X]`."""
    args = [a for a in typing.get_args(hint) if a is not type(None) and a is not Ellipsis]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) in (tuple, Sequence):
        return args[0]
    return hint


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def to_pb(obj: Any) -> Any:
    """A dataclass from `_types` -> its generated message."""
    msg = MESSAGES[type(obj)]()
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None:
            continue
        fd = msg.DESCRIPTOR.fields_by_name[f.name]
        if _is_map(fd):
            getattr(msg, f.name).update(value)
        elif _is_repeated(fd):
            getattr(msg, f.name).extend(to_pb(v) if fd.message_type else v for v in value)
        elif fd.message_type is not None:
            getattr(msg, f.name).CopyFrom(to_pb(value))
        elif fd.enum_type is not None:
            setattr(msg, f.name, enum_to_pb(value))
        else:
            setattr(msg, f.name, value)
    return msg


def from_pb(cls: type[T], msg: Message) -> T:
    """A generated message -> the dataclass `cls` from `_types`."""
    hints = _hints(typing.cast(type, cls))
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        fd = msg.DESCRIPTOR.fields_by_name[f.name]
        value = getattr(msg, f.name)
        inner = _class_in(hints[f.name])
        if _is_map(fd):
            kwargs[f.name] = dict(value)
        elif _is_repeated(fd):
            kwargs[f.name] = tuple(from_pb(inner, v) if fd.message_type else v for v in value)
        elif fd.message_type is not None:
            optional = isinstance(hints[f.name], types.UnionType)
            absent = optional and not msg.HasField(f.name)
            kwargs[f.name] = None if absent else from_pb(inner, value)
        elif fd.enum_type is not None:
            kwargs[f.name] = enum_from_pb(inner, value)
        elif fd.has_presence and isinstance(hints[f.name], types.UnionType):
            # `optional` scalars (e.g. Service.pinned): None when unset, not 0.
            kwargs[f.name] = value if msg.HasField(f.name) else None
        else:
            kwargs[f.name] = value
    return cls(**kwargs)


# ---------------------------------------------------------------- requests


def register_request(
    name: str, namespace: str, spec: t.WorkloadSpec
) -> workload_pb2.RegisterWorkloadRequest:
    return workload_pb2.RegisterWorkloadRequest(name=name, namespace=namespace, spec=to_pb(spec))


def update_request(
    name: str, namespace: str, spec: t.WorkloadSpec, expected_generation: int = 0
) -> workload_pb2.UpdateWorkloadRequest:
    return workload_pb2.UpdateWorkloadRequest(
        name=name,
        namespace=namespace,
        spec=to_pb(spec),
        expected_generation=expected_generation,
    )


def hello_message(name: str, namespace: str) -> workload_pb2.AppMessage:
    return workload_pb2.AppMessage(hello=workload_pb2.AttachHello(name=name, namespace=namespace))


def metrics_message(
    latency_ms: Sequence[float],
    throughput_per_s: float,
    queue_depth: int,
    time_unix: float | None = None,
    throttle_factor: float | None = None,
) -> workload_pb2.AppMessage:
    report = workload_pb2.MetricsReport(
        time_unix=time.time() if time_unix is None else time_unix,
        latency_ms=list(latency_ms),
        throughput_per_s=throughput_per_s,
        queue_depth=queue_depth,
    )
    if throttle_factor is not None:
        report.throttle_factor = throttle_factor
    return workload_pb2.AppMessage(metrics=report)


def ack_message(directive_id: str, ok: bool, reason: str = "") -> workload_pb2.AppMessage:
    ack = workload_pb2.DirectiveAck(directive_id=directive_id, ok=ok, reason=reason)
    return workload_pb2.AppMessage(ack=ack)


def logs_from_pb(msg: admin_pb2.LogsResponse) -> mig.WorkloadLogs:
    """By hand: a bytes field, which the descriptor-driven conversion does not need."""
    return mig.WorkloadLogs(
        data=bytes(msg.data), node=msg.node, truncated=msg.truncated, size_bytes=msg.size_bytes
    )


def many(cls: type[T], messages: Iterable[Message]) -> list[T]:
    return [from_pb(cls, m) for m in messages]
