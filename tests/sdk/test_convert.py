"""The dataclass <-> message conversion: complete, lossless, forward compatible."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import given
from hypothesis import strategies as st

from sdk import _convert as convert
from sdk import _types as t
from sdk.pb.aiwo.v1 import types_pb2


def populate(msg: Any, depth: int = 0) -> Any:
    """Set every field of `msg` to a non-default value (nested messages too)."""
    for fd in msg.DESCRIPTOR.fields:
        name = fd.name
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            key_fd = fd.message_type.fields_by_name["key"]
            value_fd = fd.message_type.fields_by_name["value"]
            value: Any = 7 if value_fd.cpp_type == FieldDescriptor.CPPTYPE_INT32 else "v"
            key: Any = 3 if key_fd.cpp_type == FieldDescriptor.CPPTYPE_INT32 else "k"
            getattr(msg, name)[key] = value
        elif fd.message_type is not None:
            if depth > 4:
                continue
            if fd.is_repeated:
                populate(getattr(msg, name).add(), depth + 1)
            else:
                populate(getattr(msg, name), depth + 1)
        else:
            value = _scalar(fd)
            if fd.is_repeated:
                getattr(msg, name).extend([value, value])
            else:
                setattr(msg, name, value)
    return msg


def _scalar(fd: Any) -> Any:
    if fd.enum_type is not None:
        return fd.enum_type.values[-1].number
    return {
        FieldDescriptor.CPPTYPE_STRING: "x",
        FieldDescriptor.CPPTYPE_BOOL: True,
        FieldDescriptor.CPPTYPE_DOUBLE: 1.5,
        FieldDescriptor.CPPTYPE_FLOAT: 1.5,
    }.get(fd.cpp_type, 3)


@pytest.mark.parametrize("cls", list(convert.MESSAGES), ids=lambda c: c.__name__)
def test_dataclass_fields_are_the_message_fields(cls: type) -> None:
    message_fields = [f.name for f in convert.MESSAGES[cls].DESCRIPTOR.fields]
    assert [f.name for f in dataclasses.fields(cls)] == message_fields


@pytest.mark.parametrize("cls", list(convert.MESSAGES), ids=lambda c: c.__name__)
def test_fully_populated_message_round_trips(cls: type) -> None:
    msg = populate(convert.MESSAGES[cls]())
    value: Any = convert.from_pb(cls, msg)
    assert convert.to_pb(value) == msg


@pytest.mark.parametrize("cls", list(convert.ENUMS), ids=lambda c: c.__name__)
def test_every_proto_enum_value_has_a_member(cls: Any) -> None:
    descriptor = convert.ENUMS[cls]
    members: set[Any] = {convert.enum_from_pb(cls, v.number) for v in descriptor.values}
    assert members == set(cls)  # one-to-one, nothing missing on either side


def test_enum_short_names() -> None:
    assert convert.enum_from_pb(t.NodeState, types_pb2.NODE_STATE_NOT_READY) == "not_ready"
    assert convert.enum_to_pb(t.DirectiveKind.SWITCH_VARIANT) == (
        types_pb2.DIRECTIVE_KIND_SWITCH_VARIANT
    )


def test_unknown_enum_number_from_a_newer_controller_is_unspecified() -> None:
    assert convert.enum_from_pb(t.WorkloadPhase, 99) is t.WorkloadPhase.UNSPECIFIED


def test_absent_optional_message_is_none_and_present_one_is_kept() -> None:
    spec = convert.from_pb(t.WorkloadSpec, types_pb2.WorkloadSpec())
    assert spec.launch is None
    launched = t.WorkloadSpec(launch=t.LaunchSpec(command=["python", "-m", "train"]))
    assert convert.from_pb(t.WorkloadSpec, convert.to_pb(launched)) == launched


def test_sequences_and_mappings_are_normalised() -> None:
    res = t.Resources(gpus=1, gpu_models=["H100", "A100"])
    assert res.gpu_models == ("H100", "A100")
    assert res == t.Resources(gpus=1, gpu_models=("H100", "A100"))


def test_workload_placement_only_when_placed() -> None:
    pending = t.Workload(name="w", phase=t.WorkloadPhase.PENDING)
    assert pending.placement is None
    placed = t.Workload(name="w", phase=t.WorkloadPhase.RUNNING, node="n1", gpus=[0, 1])
    assert placed.placement == t.Placement("n1", (0, 1))


def test_asdict_is_json_with_proto_keys_and_short_enums() -> None:
    node = t.Node("n1", state=t.NodeState.READY, gpu_count=8)
    data = json.loads(json.dumps(dataclasses.asdict(node)))
    assert data["state"] == "ready"
    assert set(data) == {f.name for f in types_pb2.Node.DESCRIPTOR.fields}


resources = st.builds(
    t.Resources,
    gpus=st.integers(0, 64),
    milli_gpu=st.integers(0, 1000),
    gpu_memory_mib=st.integers(0, 2**40),
    gpu_models=st.lists(st.sampled_from(["H100", "A100", "T4", "L4"]), max_size=3),
    cpu_milli=st.integers(0, 10**7),
    memory_mib=st.integers(0, 2**34),
)
specs = st.builds(
    t.WorkloadSpec,
    priority_class=st.sampled_from(["", "high", "batch"]),
    priority=st.integers(0, 1000),
    slo=st.builds(
        t.SloHints,
        p99_latency_ms=st.floats(0, 1e6, allow_nan=False),
        throughput_target=st.floats(0, 1e9, allow_nan=False),
        deadline_unix=st.floats(0, 1e11, allow_nan=False),
    ),
    resources=resources,
    variants=st.lists(
        st.builds(t.ModelVariant, name=st.sampled_from(["fp16", "int8"]), resources=resources),
        max_size=2,
    ),
    launch=st.none() | st.builds(t.LaunchSpec, command=st.lists(st.text(min_size=1), max_size=3)),
    labels=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=3),
    service=st.sampled_from(["", "web"]),
)


@given(specs)
def test_specs_round_trip(spec: t.WorkloadSpec) -> None:
    assert convert.from_pb(t.WorkloadSpec, convert.to_pb(spec)) == spec


def test_token_info_carries_every_field_of_the_message() -> None:
    from sdk._auth import TokenInfo
    from sdk.pb.aiwo.v1 import auth_pb2

    message_fields = [f.name for f in auth_pb2.TokenInfo.DESCRIPTOR.fields]
    assert [f.name for f in dataclasses.fields(TokenInfo)] == message_fields
    info = auth_pb2.TokenInfo(id="1a2b3c4d5e6f", workload="default/web", node="node-1")
    assert (TokenInfo.from_pb(info).workload, TokenInfo.from_pb(info).node) == (
        "default/web",
        "node-1",
    )
