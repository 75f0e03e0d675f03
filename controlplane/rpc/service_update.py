"""A live service's new range and SLO targets (UpdateService), in pure functions: the spec
an update leads to, what an event says changed, and the `aiwo scale` flags that would turn
one spec into another (so a refused re-create can say how to change the service instead).
`check_update_service` in rpc/validation.py checks each field on its own first."""

from __future__ import annotations

from controlplane.rpc.validation import SERVICE_TARGETS, ValidationError
from sdk._text import targets_text
from sdk.pb.aiwo.v1 import serving_pb2

# The `aiwo scale` flag of each field UpdateService changes, in the order they are shown.
SCALE_FLAGS = (
    ("min_replicas", "--min"),
    ("max_replicas", "--max"),
    ("ttft_ms", "--ttft-ms"),
    ("tpot_ms", "--tpot-ms"),
    ("p99_latency_ms", "--p99-ms"),
)


def updated_service_spec(
    current: serving_pb2.ServiceSpec, req: serving_pb2.UpdateServiceRequest
) -> serving_pb2.ServiceSpec:
    """The stored spec with the request's fields applied; min above max is refused naming the
    field the request set (min_replicas when it set both)."""
    spec = serving_pb2.ServiceSpec()
    spec.CopyFrom(current)
    if req.HasField("min_replicas"):
        spec.min_replicas = req.min_replicas
    if req.HasField("max_replicas"):
        spec.max_replicas = req.max_replicas
    for name in SERVICE_TARGETS:
        if req.HasField(name):
            setattr(spec.template.slo, name, getattr(req, name))
    if spec.min_replicas > spec.max_replicas:
        if req.HasField("min_replicas"):
            raise ValidationError(
                "min_replicas",
                f"must be at most max_replicas ({spec.max_replicas}), got {spec.min_replicas}",
            )
        raise ValidationError(
            "max_replicas",
            f"must be at least min_replicas ({spec.min_replicas}), got {spec.max_replicas}",
        )
    return spec


def _value(spec: serving_pb2.ServiceSpec, field: str) -> float:
    if field in SERVICE_TARGETS:
        return float(getattr(spec.template.slo, field))
    return float(getattr(spec, field))


def update_summary(before: serving_pb2.Service, after: serving_pb2.Service) -> str:
    """What an update changed, for its event: "replicas 1-3 -> 1-2, desired 3 -> 2; SLO
    targets - -> TTFT 500 ms". Only what moved (a no-op update writes no event)."""
    parts = []
    old, new = before.spec, after.spec
    if (old.min_replicas, old.max_replicas) != (new.min_replicas, new.max_replicas):
        parts.append(
            f"replicas {old.min_replicas}-{old.max_replicas} -> "
            f"{new.min_replicas}-{new.max_replicas}"
        )
    if before.desired != after.desired:
        parts.append(f"desired {before.desired} -> {after.desired}")
    old_targets, new_targets = targets_text(old.template.slo), targets_text(new.template.slo)
    changes = ", ".join(parts)
    if old_targets != new_targets:
        changes += ("; " if changes else "") + f"SLO targets {old_targets} -> {new_targets}"
    return changes or "unchanged"


def scale_flags(existing: serving_pb2.ServiceSpec, wanted: serving_pb2.ServiceSpec) -> str | None:
    """The `aiwo scale` flags that turn `existing` into `wanted` ("--max 4 --ttft-ms 500"),
    or None when they differ in more than the range and the targets (or not at all)."""
    probe = serving_pb2.ServiceSpec()
    probe.CopyFrom(existing)
    probe.min_replicas, probe.max_replicas = wanted.min_replicas, wanted.max_replicas
    for name in SERVICE_TARGETS:
        value = getattr(wanted.template.slo, name)
        if getattr(probe.template.slo, name) != value:  # an untouched slo stays unset
            setattr(probe.template.slo, name, value)
    if probe != wanted or existing == wanted:
        return None
    flags = [
        f"{flag} {_value(wanted, field):g}"
        for field, flag in SCALE_FLAGS
        if _value(existing, field) != _value(wanted, field)
    ]
    return " ".join(flags)
