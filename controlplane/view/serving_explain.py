"""`aiwo explain SERVICE`: why a service has the replicas it has, and what blocks it."""

from __future__ import annotations

from sdk._text import plural
from sdk.pb.aiwo.v1 import admin_pb2, serving_pb2, types_pb2


def explain_service(service: serving_pb2.Service, blocked: str, reason_now: str = "") -> str:
    """One paragraph: the count and its reason, each replica's state, what blocks it, and
    the autoscaler's latest reason (`reason_now`, which names what blocks it too): the last
    scale's reason alone can be long stale ("panic: ... no scale-in until it passes")."""
    key = f"{service.namespace}/{service.name}"
    spec = service.spec
    ready = sum(
        1 for r in service.replicas if r.state == serving_pb2.REPLICA_STATE_READY and r.endpoint
    )
    active = sum(1 for r in service.replicas if r.state != serving_pb2.REPLICA_STATE_DRAINING)
    parts = [
        f"service {key} has {plural(active, 'replica')}, {ready} ready; desired {service.desired} "
        f"(min {spec.min_replicas}, max {spec.max_replicas})"
    ]
    if service.deleting:
        parts.append("being deleted: every replica drains, then the record goes")
    elif service.HasField("pinned"):
        parts.append(f"pinned to {service.pinned} by `aiwo scale` (--auto hands it back)")
    elif service.last_scale.time_unix:
        last = service.last_scale
        parts.append(f"last scale {last.from_replicas} -> {last.to_replicas}: {last.reason}")
    else:
        parts.append("never scaled since creation: it starts at min_replicas")
    counts: dict[str, int] = {}
    for replica in service.replicas:
        name = serving_pb2.ReplicaState.Name(replica.state).removeprefix("REPLICA_STATE_")
        counts[name.lower().replace("_", " ")] = counts.get(name.lower().replace("_", " "), 0) + 1
    if counts:
        parts.append(
            "replicas: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        )
    if service.replicas_failed:
        parts.append(f"{plural(service.replicas_failed, 'replica')} replaced since creation")
    if reason_now and not service.deleting:
        parts.append(f"now: {reason_now}")
    elif blocked:
        parts.append(f"blocked: {blocked}")
    if service.message:
        parts.append(service.message)
    return "; ".join(parts)


def service_explanation(
    service: serving_pb2.Service, blocked: str, reason_now: str = ""
) -> admin_pb2.ServiceExplanation:
    """The numbers behind `explain_service`'s paragraph, for `aiwo explain SERVICE -o json`."""
    slo = service.spec.template.slo
    explained = admin_pb2.ServiceExplanation(
        name=service.name,
        namespace=service.namespace,
        replicas=sum(1 for r in service.replicas if r.state != serving_pb2.REPLICA_STATE_DRAINING),
        ready=sum(
            1 for r in service.replicas if r.state == serving_pb2.REPLICA_STATE_READY and r.endpoint
        ),
        desired=service.desired,
        min_replicas=service.spec.min_replicas,
        max_replicas=service.spec.max_replicas,
        reason=reason_now or service.last_scale.reason,
        blocked=blocked,
        targets=types_pb2.SloHints(
            ttft_ms=slo.ttft_ms, tpot_ms=slo.tpot_ms, p99_latency_ms=slo.p99_latency_ms
        ),
        deleting=service.deleting,
        replicas_failed=service.replicas_failed,
    )
    if service.HasField("pinned"):
        explained.pinned = service.pinned
    return explained
