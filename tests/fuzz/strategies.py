"""Hypothesis strategies that build any aiwo request message from its descriptor.

Values lean on the edges: integer limits, the boundaries validation checks (63 characters,
1000 milli-GPU, 64 GPUs), NaN and infinities, odd unicode (combining marks, right-to-left,
zero-width, NUL, astral planes), unknown enum numbers and repeated fields past the limits.
Name-like string fields (name, namespace, node, workload, ...) are valid names often, so
examples get past the first check and reach the deeper ones.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from sdk.pb.aiwo.v1 import auth_pb2, node_pb2, types_pb2, workload_pb2

INT32 = (0, 1, -1, 2, 7, 63, 64, 65, 999, 1000, 1001, 2**31 - 1, -(2**31))
INT64 = (*INT32, 1 << 34, (1 << 40) + 1, 2**63 - 1, -(2**63))
UINT64 = (0, 1, 2**32, 2**64 - 1)
DOUBLES = (0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 1e300, 3_600_000.0, 3_600_001.0, 1e9, 1e11)

# Characters that break naive code: NUL, controls, combining marks, bidi overrides,
# zero-width joiners, a BOM, a lookalike dash, astral emoji. Never lone surrogates:
# protobuf strings are UTF-8 and the client could not even send them.
ODD_CHARS = "\x00\x01\x1b\x7f\u0301\u202e\u200d\u200b\ufeff\u2010\U0001f600\U0010ffff/.:-_ "
NAME_FIELDS = frozenset(
    {"name", "namespace", "node", "workload", "service", "command_id", "directive_id", "id"}
)
# The names the fuzz fixtures register, so that examples reach existing objects too.
SEEDED_NAMES = ("default", "web", "node-a")
VALID_NAMES = st.one_of(
    st.sampled_from(SEEDED_NAMES), st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z")
)
WORKLOAD_KEYS = st.builds(lambda ns, name: f"{ns}/{name}", VALID_NAMES, VALID_NAMES)


def odd_text(max_size: int = 80) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(st.characters(codec="utf-8"), max_size=max_size),
        st.text(st.sampled_from(ODD_CHARS), max_size=max_size),
        st.sampled_from(("", "a" * 63, "a" * 64, "A", "-a", "a-", "ünïcode", "a/b", "..")),
    )


def _string(field: Any) -> st.SearchStrategy[str]:
    if field.name in NAME_FIELDS:
        valid = WORKLOAD_KEYS if field.name == "workload" else VALID_NAMES
        return st.one_of(valid, valid, odd_text(70))
    if field.name == "priority_class":
        return st.one_of(st.sampled_from(("", "high", "normal", "low", "critical")), odd_text())
    if field.name == "role":
        return st.one_of(st.sampled_from(("admin", "operator", "workload", "viewer")), odd_text())
    if field.name == "kind":
        return st.one_of(
            st.sampled_from(("node", "workload", "started", "exited", "restarted")), odd_text()
        )
    return odd_text()


_F = FieldDescriptor
_SIGNED32 = (_F.TYPE_INT32, _F.TYPE_SINT32, _F.TYPE_SFIXED32)
_SIGNED64 = (_F.TYPE_INT64, _F.TYPE_SINT64, _F.TYPE_SFIXED64)


def _scalar(field: Any) -> st.SearchStrategy[Any]:
    t = field.type
    if t in _SIGNED32:
        return st.one_of(st.sampled_from(INT32), st.integers(-(2**31), 2**31 - 1))
    if t in _SIGNED64:
        return st.one_of(st.sampled_from(INT64), st.integers(-(2**63), 2**63 - 1))
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return st.one_of(st.sampled_from(UINT64), st.integers(0, 2**64 - 1))
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.one_of(
            st.sampled_from(DOUBLES),
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            st.floats(0, 2000),
        )
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t == FieldDescriptor.TYPE_STRING:
        return _string(field)
    if t == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if t == FieldDescriptor.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        # proto3 enums are open: numbers the schema does not know arrive as they are.
        return st.one_of(st.sampled_from(known), st.integers(-(2**31), 2**31 - 1))
    raise AssertionError(f"unhandled field type {t} of {field.full_name}")


def _is_map(field: Any) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def _is_repeated(field: Any) -> bool:
    # `label` is deprecated in newer protobuf releases; `is_repeated` is not in older ones.
    repeated = getattr(field, "is_repeated", None)
    if repeated is not None:
        return bool(repeated)
    return field.label == FieldDescriptor.LABEL_REPEATED


def _value(field: Any, depth: int, max_repeated: int) -> st.SearchStrategy[Any]:
    if _is_map(field):
        entry = field.message_type
        key = _scalar(entry.fields_by_name["key"])
        value_field = entry.fields_by_name["value"]
        value = (
            _fields(value_field.message_type, depth + 1, max_repeated)
            if value_field.type == FieldDescriptor.TYPE_MESSAGE
            else _scalar(value_field)
        )
        return st.dictionaries(key, value, max_size=max_repeated)
    single = (
        _fields(field.message_type, depth + 1, max_repeated)
        if field.type == FieldDescriptor.TYPE_MESSAGE
        else _scalar(field)
    )
    if _is_repeated(field):
        return st.lists(single, max_size=max_repeated)
    return single


def _fields(descriptor: Any, depth: int, max_repeated: int) -> st.SearchStrategy[dict[str, Any]]:
    """A dict of field values (a subset of the fields, at most one per oneof)."""
    if depth > 4:
        return st.just({})
    plain = [f for f in descriptor.fields if f.containing_oneof is None]
    optional = {f.name: _value(f, depth, max_repeated) for f in plain}
    base = st.fixed_dictionaries({}, optional=optional)  # type: ignore[arg-type]
    oneofs = []
    for oneof in descriptor.oneofs:
        choices = [st.tuples(st.just(f.name), _value(f, depth, max_repeated)) for f in oneof.fields]
        oneofs.append(st.one_of(st.none(), *choices))
    if not oneofs:
        return base

    def merge(parts: tuple[Any, ...]) -> dict[str, Any]:
        merged = dict(parts[0])
        for chosen in parts[1:]:
            if chosen is not None:
                merged[chosen[0]] = chosen[1]
        return merged

    return st.tuples(base, *oneofs).map(merge)


def messages(message_type: type[Message], max_repeated: int = 4) -> st.SearchStrategy[Message]:
    """Any message of `message_type`, built from its descriptor."""
    return _fields(message_type.DESCRIPTOR, 0, max_repeated).map(lambda f: _build(message_type, f))


def _build(message_type: type[Message], values: dict[str, Any]) -> Message:
    message = message_type()
    _fill(message, values)
    return message


def _fill(message: Message, values: dict[str, Any]) -> None:
    descriptor = message.DESCRIPTOR
    for name, value in values.items():
        field = descriptor.fields_by_name[name]
        target = getattr(message, name)
        if _is_map(field):
            for key, item in value.items():
                if isinstance(item, dict):
                    _fill(target[key], item)
                else:
                    target[key] = item
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if _is_repeated(field):
                for item in value:
                    _fill(target.add(), item)
            else:
                target.SetInParent()
                _fill(target, value)
        elif _is_repeated(field):
            target.extend(value)
        else:
            setattr(message, name, value)


# ---------------------------------------------------------------- plausible requests
# Random messages mostly stop at the first check (a bad name). These are valid most of
# the time, with an edge value now and then, so the later checks and the code after
# validation (the fit check, the store, the optimizer) see the odd values too.


def _mostly(valid: st.SearchStrategy[Any], edge: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # About one draw in ten is an edge value: a spec has ~20 such fields, so most specs
    # carry one or two, and some none.
    # (one_of would merge nine equal branches into one: draw the choice instead.)
    return st.integers(0, 9).flatmap(lambda pick: edge if pick == 0 else valid)


_INTS32 = st.sampled_from(INT32)
_INTS64 = st.sampled_from(INT64)
_FLOATS = st.one_of(st.sampled_from(DOUBLES), st.floats(allow_nan=True, allow_infinity=True))
_MODELS = st.sampled_from(("H100", "A100", "T4", "A100-80GB"))


def resources() -> st.SearchStrategy[types_pb2.Resources]:
    # A share of a GPU only with gpus = 1, as validation wants; the edges break that too.
    gpus_and_share = st.one_of(
        st.tuples(st.just(1), st.sampled_from((0, 1, 250, 500, 999, 1000))),
        st.tuples(st.integers(0, 8), st.sampled_from((0, 1000))),
    )
    return st.builds(
        _resources,
        gpus_and_share=_mostly(gpus_and_share, st.tuples(_INTS32, _INTS32)),
        gpu_memory_mib=_mostly(st.integers(0, 81_920), _INTS64),
        gpu_models=st.lists(_mostly(_MODELS, odd_text()), max_size=3),
        cpu_milli=_mostly(st.integers(0, 96_000), _INTS64),
        memory_mib=_mostly(st.integers(0, 1 << 20), _INTS64),
    )


def _resources(gpus_and_share: tuple[int, int], **rest: Any) -> types_pb2.Resources:
    gpus, milli_gpu = gpus_and_share
    return types_pb2.Resources(gpus=gpus, milli_gpu=milli_gpu, **rest)


def workload_specs() -> st.SearchStrategy[types_pb2.WorkloadSpec]:
    return st.builds(
        types_pb2.WorkloadSpec,
        priority_class=_mostly(st.sampled_from(("", "high", "low")), odd_text()),
        priority=_mostly(st.integers(0, 1000), _INTS32),
        slo=st.builds(
            types_pb2.SloHints,
            p99_latency_ms=_mostly(st.floats(0, 1000), _FLOATS),
            throughput_target=_mostly(st.floats(0, 1e4), _FLOATS),
            deadline_unix=_mostly(st.just(0.0), _FLOATS),
        ),
        resources=resources(),
        variants=_mostly(
            st.lists(
                st.builds(
                    types_pb2.ModelVariant,
                    name=st.sampled_from(("fp16", "int8", "int4")),
                    resources=resources(),
                    latency_factor=st.floats(0, 10),
                    accuracy_cost=st.floats(0, 1),
                ),
                max_size=2,
                unique_by=lambda v: v.name,
            ),
            st.lists(messages(types_pb2.ModelVariant), max_size=3),
        ),
        launch=_mostly(
            st.builds(
                types_pb2.LaunchSpec,
                command=st.lists(st.sampled_from(("python", "-c", "pass", "ünï")), min_size=1),
                env=st.dictionaries(st.sampled_from(("A", "B_1")), odd_text(), max_size=2),
                working_dir=st.sampled_from(("", "/tmp")),
                restart_policy=st.integers(0, 2),
            ),
            messages(types_pb2.LaunchSpec),
        ),
        labels=st.dictionaries(odd_text(20), odd_text(), max_size=3),
        service=_mostly(st.sampled_from(("", "svc")), odd_text()),
    )


def gpu_infos(count: int) -> st.SearchStrategy[list[types_pb2.GpuInfo]]:
    def gpu(index: int) -> st.SearchStrategy[types_pb2.GpuInfo]:
        return st.builds(
            types_pb2.GpuInfo,
            index=_mostly(st.just(index), _INTS32),
            uuid=odd_text(),
            model=_mostly(_MODELS, odd_text()),
            memory_total_mib=_mostly(st.integers(0, 81_920), _INTS64),
            power_limit_min_w=_mostly(st.floats(0, 300), _FLOATS),
            power_limit_max_w=_mostly(st.floats(300, 700), _FLOATS),
            nvlink_peers=_mostly(
                # Another GPU's index: 0..count-2, shifted past this one's.
                st.lists(st.integers(0, count - 2).map(lambda p: p + (p >= index)), max_size=2)
                if count > 1
                else st.just([]),
                st.lists(_INTS32, max_size=3),
            ),
        )

    return st.tuples(*(gpu(i) for i in range(count))).map(list)


def node_infos() -> st.SearchStrategy[types_pb2.NodeInfo]:
    return st.integers(0, 8).flatmap(
        lambda count: st.builds(
            types_pb2.NodeInfo,
            name=_mostly(VALID_NAMES, odd_text()),
            cpu_milli=_mostly(st.integers(0, 96_000), _INTS64),
            memory_mib=_mostly(st.integers(0, 1 << 20), _INTS64),
            gpus=gpu_infos(count),
            capabilities=st.lists(odd_text(20), max_size=3),
            labels=st.dictionaries(odd_text(20), odd_text(), max_size=3),
            gpu_backend=st.builds(
                types_pb2.GpuBackend, kind=odd_text(), status=_INTS32, detail=odd_text()
            ),
            agent_version=odd_text(),
        )
    )


def telemetry_reports(gpu_count: int) -> st.SearchStrategy[node_pb2.TelemetryReport]:
    sample = st.builds(
        types_pb2.GpuSample,
        index=_mostly(st.integers(0, max(gpu_count - 1, 0)), _INTS32),
        utilization_pct=_mostly(st.floats(0, 100), _FLOATS),
        memory_used_mib=_mostly(st.integers(0, 81_920), _INTS64),
        power_w=_mostly(st.floats(0, 700), _FLOATS),
        power_limit_w=_mostly(st.floats(100, 700), _FLOATS),
        temperature_c=_mostly(st.floats(20, 90), _FLOATS),
        sm_clock_mhz=_mostly(st.integers(0, 2000), _INTS32),
        xid_events=st.lists(st.integers(0, 2**64 - 1), max_size=3),
    )
    return st.builds(
        node_pb2.TelemetryReport,
        time_unix=_mostly(st.floats(1.6e9, 2e9), _FLOATS),
        gpus=st.lists(sample, max_size=gpu_count + 1),
        nets=st.lists(messages(types_pb2.NetSample), max_size=2),
        clock_locks=st.lists(
            st.builds(
                node_pb2.ClockLock,
                gpu_index=_mostly(st.integers(0, max(gpu_count - 1, 0)), _INTS32),
                min_mhz=_mostly(st.integers(1, 1000), _INTS32),
                max_mhz=_mostly(st.integers(1000, 2000), _INTS32),
            ),
            max_size=2,
        ),
    )


def metrics_reports() -> st.SearchStrategy[workload_pb2.MetricsReport]:
    return st.builds(
        workload_pb2.MetricsReport,
        time_unix=_mostly(st.floats(1.6e9, 2e9), _FLOATS),
        latency_ms=st.lists(_mostly(st.floats(0, 1000), _FLOATS), max_size=20),
        throughput_per_s=_mostly(st.floats(0, 1e4), _FLOATS),
        queue_depth=_mostly(st.integers(0, 100), _INTS32),
        throttle_factor=st.none() | _mostly(st.floats(0, 1), _FLOATS),
    )


def plausible(message_type: type[Message]) -> st.SearchStrategy[Message] | None:
    """A mostly-valid strategy for the requests that carry real payloads."""
    if message_type is workload_pb2.RegisterWorkloadRequest:
        return st.builds(
            workload_pb2.RegisterWorkloadRequest,
            name=VALID_NAMES,
            namespace=st.sampled_from(("default", "team-a")),
            spec=workload_specs(),
        )
    if message_type is workload_pb2.UpdateWorkloadRequest:
        return st.builds(
            workload_pb2.UpdateWorkloadRequest,
            name=st.just("web"),
            namespace=st.just("default"),
            spec=workload_specs(),
            expected_generation=_mostly(st.integers(0, 3), _INTS64),
        )
    if message_type is node_pb2.RegisterNodeRequest:
        return st.builds(node_pb2.RegisterNodeRequest, node=node_infos())
    if message_type is auth_pb2.CreateTokenRequest:
        return st.builds(
            auth_pb2.CreateTokenRequest,
            role=st.sampled_from(("admin", "operator", "workload", "viewer", "root")),
            namespaces=st.lists(_mostly(VALID_NAMES, odd_text()), max_size=3),
            ttl_s=_mostly(st.floats(0, 86_400), _FLOATS),
            description=odd_text(),
        )
    return None


def requests(message_type: type[Message]) -> st.SearchStrategy[Message]:
    """Random messages, and plausible ones where the request type has a payload."""
    mostly_valid = plausible(message_type)
    if mostly_valid is None:
        return messages(message_type)
    return st.one_of(messages(message_type), mostly_valid, mostly_valid)
