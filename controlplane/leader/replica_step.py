"""A service's replicas as pure rules: records in, decisions out (docs/serving.md).

`step` reconciles one service record with what the cluster says about its replicas'
workloads (placed where, ended how) and with what the gateways say (drained or not), and
returns the record to write, the replicas to create and those to stop. `on_process_event`
turns what a replica's process did (ready, unready, exited) into its new state. Neither
does I/O or reads a clock: controlplane/leader/serving.py carries the decisions out.

States: PENDING (no placement) -> STARTING (placed, launched) -> READY (its health path
answers 200: in the gateways' endpoints) -> DRAINING (out of the endpoints; stopped once
the gateways report nothing in flight on it, or after drain_grace_s). CRASH_LOOP: exited
soon after it started, restarted by the agent after a backoff; shown, and never a reason to
add replicas. A replica not ready within load_timeout_s of its placement is replaced and
counted (Service.replicas_failed); so is one whose process ended for good.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sdk._text import plural
from sdk.pb.aiwo.v1 import serving_pb2, types_pb2

R = serving_pb2.ReplicaState
PENDING = serving_pb2.REPLICA_STATE_PENDING
STARTING = serving_pb2.REPLICA_STATE_STARTING
READY = serving_pb2.REPLICA_STATE_READY
DRAINING = serving_pb2.REPLICA_STATE_DRAINING
CRASH_LOOP = serving_pb2.REPLICA_STATE_CRASH_LOOP
FAILED = serving_pb2.REPLICA_STATE_FAILED

DEFAULT_LOAD_TIMEOUT_S = 600.0  # ServiceSpec.load_timeout_s = 0
DEFAULT_DRAIN_GRACE_S = 30.0  # ServiceSpec.drain_grace_s = 0
DEFAULT_HEALTH_PATH = "/healthz"
# An exit within this long of becoming ready (or before ever being ready) is a crash loop.
CRASH_WINDOW_S = 60.0
# Replacing replicas that ended for good backs off: 5 s, 10 s, ... up to 5 minutes, so a
# command that cannot start never turns into a storm of new replicas.
REPLACE_BACKOFF_MIN_S = 5.0
REPLACE_BACKOFF_MAX_S = 300.0
MAX_INDEX = 999  # replica names stay "{service}-{0..999}" (validation.MAX_SERVICE_NAME_CHARS)
SERVICE_LABEL = "aiwo.service"  # on each replica's workload: the service's name

# Scale-in picks the replica that is least use first: not yet serving before serving.
_REMOVAL_RANK = {PENDING: 0, CRASH_LOOP: 1, FAILED: 1, STARTING: 2, READY: 3}
_ENDED = frozenset({types_pb2.WORKLOAD_PHASE_FAILED, types_pb2.WORKLOAD_PHASE_SUCCEEDED})


@dataclass(frozen=True, slots=True)
class ReplicaWorld:
    """What the cluster says about one replica's workload."""

    phase: int
    message: str = ""
    node: str = ""  # its placement's node; "" = not placed
    placed_unix: float = 0.0
    node_ready: bool = True  # False: the node stopped heartbeating (it may come back)


@dataclass(frozen=True, slots=True)
class StepInput:
    service: serving_pb2.Service
    world: Mapping[str, ReplicaWorld]  # replica workload name -> its workload; absent = gone
    drained: frozenset[str] = frozenset()  # draining replicas with nothing in flight
    taken: frozenset[str] = frozenset()  # workload names in the namespace owned by others
    prefer_remove: tuple[str, ...] = ()  # the autoscaler's pick for scale-in, best first


@dataclass(frozen=True, slots=True)
class StepEvent:
    kind: str
    message: str
    fields: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    service: serving_pb2.Service | None  # the record as it should be; None = delete it
    changed: bool
    create: tuple[serving_pb2.Replica, ...] = ()  # write these replicas' workloads
    remove: tuple[str, ...] = ()  # stop these replicas and delete their workloads
    events: tuple[StepEvent, ...] = field(default=())


def load_timeout_s(spec: serving_pb2.ServiceSpec) -> float:
    return spec.load_timeout_s or DEFAULT_LOAD_TIMEOUT_S


def drain_grace_s(spec: serving_pb2.ServiceSpec) -> float:
    return spec.drain_grace_s or DEFAULT_DRAIN_GRACE_S


def health_path(spec: serving_pb2.ServiceSpec) -> str:
    return spec.health_path or spec.template.launch.health_path or DEFAULT_HEALTH_PATH


def replace_backoff_s(streak: int) -> float:
    return float(min(REPLACE_BACKOFF_MAX_S, REPLACE_BACKOFF_MIN_S * 2 ** max(0, streak - 1)))


def is_routable(replica: serving_pb2.Replica) -> bool:
    return replica.state == READY and bool(replica.endpoint)


def _set_state(replica: serving_pb2.Replica, state: int, now: float, message: str = "") -> None:
    if replica.state != state:
        replica.state = state  # type: ignore[assignment]
        replica.state_since_unix = now
    replica.message = message


def step(data: StepInput, now: float) -> Step:
    svc = serving_pb2.Service()
    svc.CopyFrom(data.service)
    key = f"{svc.namespace}/{svc.name}"
    events: list[StepEvent] = []
    remove: list[str] = []
    kept: list[serving_pb2.Replica] = []

    def ended(replica: serving_pb2.Replica, kind: str, why: str, failed: bool) -> None:
        remove.append(replica.workload)
        if failed:
            svc.replicas_failed += 1
            svc.failure_streak += 1
            svc.replace_after_unix = now + replace_backoff_s(svc.failure_streak)
        events.append(StepEvent(kind, f"replica {svc.namespace}/{replica.workload} {why}"))

    # 1. Each replica's state from its workload and placement.
    for original in svc.replicas:
        replica = serving_pb2.Replica()
        replica.CopyFrom(original)
        world = data.world.get(replica.workload)
        if replica.state == DRAINING:
            if world is not None:
                kept.append(replica)  # stopped in step 3
            continue
        if world is None:
            events.append(
                StepEvent(
                    "replica_lost",
                    f"replica {svc.namespace}/{replica.workload} was removed from outside; "
                    "replaced",
                )
            )
            continue
        if world.phase in _ENDED and not world.node:
            failed = world.phase == types_pb2.WORKLOAD_PHASE_FAILED
            ended(replica, "replica_ended", f"ended: {world.message}; replaced", failed)
            continue
        if not world.node:
            _set_state(replica, PENDING, now, world.message)
            replica.node, replica.endpoint = "", ""
        elif world.node != replica.node:
            replica.node, replica.endpoint = world.node, ""
            _set_state(replica, STARTING, now)
        elif replica.state == PENDING:
            _set_state(replica, STARTING, now)
        elif replica.state == READY and not world.node_ready:
            # Out of the endpoints while its node is silent; the agent re-sends "ready"
            # when it reconnects, or the node's eviction requeues the replica.
            _set_state(replica, STARTING, now, _node_silent(world.node))
        elif (
            replica.state == STARTING
            and world.node_ready
            and replica.endpoint
            and replica.message == _node_silent(world.node)
        ):
            # Its node is back and nothing said the process went: routable again (an agent
            # that reconnected re-sends "ready" as well, which changes nothing then).
            _set_state(replica, READY, now)
        timeout_s = load_timeout_s(svc.spec)
        if (
            world.node
            and not replica.endpoint  # never ready on this placement
            and replica.state in (STARTING, CRASH_LOOP)
            and now - world.placed_unix >= timeout_s
        ):
            ended(replica, "replica_failed", f"not ready within {timeout_s:g} s; replaced", True)
            continue
        kept.append(replica)

    # 2. The count: drain the excess, or create what is missing.
    desired = 0 if svc.deleting else svc.desired
    active = [r for r in kept if r.state != DRAINING]
    if len(active) > desired:
        preferred = {name: i for i, name in enumerate(data.prefer_remove)}
        order = sorted(
            active,
            key=lambda r: (
                preferred.get(r.workload, len(preferred)),
                _REMOVAL_RANK.get(r.state, 0),
                -r.index,
            ),
        )
        why = "service deleted" if svc.deleting else f"scale-in to {desired}"
        for replica in order[: len(active) - desired]:
            _set_state(replica, DRAINING, now, why)
            events.append(
                StepEvent(
                    "replica_draining",
                    f"replica {svc.namespace}/{replica.workload} draining: {why}",
                    (("service", key),),
                )
            )
    created: list[serving_pb2.Replica] = []
    if len(active) < desired and now >= svc.replace_after_unix:
        used = {r.index for r in kept} | {r.index for r in svc.replicas}
        index = 0
        while len(active) + len(created) < desired and index <= MAX_INDEX:
            name = f"{svc.name}-{index}"
            if index not in used and name not in data.taken:
                replica = serving_pb2.Replica(
                    workload=name, index=index, state=PENDING, state_since_unix=now
                )
                created.append(replica)
                events.append(
                    StepEvent(
                        "replica_created",
                        f"replica {svc.namespace}/{name} created ({len(active) + len(created)}"
                        f" of {desired})",
                        (("service", key), ("index", index)),
                    )
                )
            index += 1
        kept.extend(created)

    # 3. Draining replicas stop once nothing is in flight on them, or after the grace.
    grace_s = drain_grace_s(svc.spec)
    remaining: list[serving_pb2.Replica] = []
    for replica in kept:
        if replica.state != DRAINING:
            remaining.append(replica)
            continue
        if not replica.endpoint:
            why = "stopped: it never served"
        elif replica.workload in data.drained:
            why = "stopped: drained, nothing in flight"
        elif now - replica.state_since_unix >= grace_s:
            why = f"stopped: drain grace {grace_s:g} s passed"
        else:
            remaining.append(replica)
            continue
        remove.append(replica.workload)
        events.append(
            StepEvent("replica_stopped", f"replica {svc.namespace}/{replica.workload} {why}")
        )

    remaining.sort(key=lambda r: r.index)
    del svc.replicas[:]
    svc.replicas.extend(remaining)
    svc.ready = sum(1 for r in remaining if is_routable(r))
    svc.message = _message(svc, data.world)
    if svc.deleting and not remaining:
        events.append(StepEvent("service_deleted", f"service {key} deleted: every replica drained"))
        return Step(None, True, tuple(created), tuple(remove), tuple(events))
    changed = svc != data.service
    return Step(svc, changed, tuple(created), tuple(remove), tuple(events))


def _node_silent(node: str) -> str:
    return f"node {node} not ready"


def _message(svc: serving_pb2.Service, world: Mapping[str, ReplicaWorld]) -> str:
    """What keeps the service from its desired count, if anything (one line)."""
    if svc.deleting:
        return f"deleting: {plural(len(svc.replicas), 'replica')} draining"
    pending = [r for r in svc.replicas if r.state == PENDING]
    crashing = [r for r in svc.replicas if r.state == CRASH_LOOP]
    parts = []
    if pending:
        first = world.get(pending[0].workload)
        why = f": {first.message}" if first is not None and first.message else ""
        parts.append(f"{plural(len(pending), 'replica')} waiting for a placement{why}")
    if crashing:
        parts.append(f"{plural(len(crashing), 'replica')} in a crash loop: {crashing[0].message}")
    active = sum(1 for r in svc.replicas if r.state != DRAINING)
    if active < svc.desired and svc.replace_after_unix:
        parts.append(f"replacements of failed replicas back off (streak {svc.failure_streak})")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class ProcessFacts:
    """One ProcessEvent for a replica, with what the controller knows around it."""

    replica: str  # workload name
    kind: str  # "ready", "unready", "exited", "started", "restarted"
    outcome: str = ""
    port: int = 0
    exit_text: str = ""  # "exited with code 1"
    host: str = ""  # the node's address, for the endpoint
    on_placed_node: bool = True  # the event came from the node the replica is placed on


def on_process_event(
    service: serving_pb2.Service, facts: ProcessFacts, now: float
) -> serving_pb2.Service | None:
    """The record with the event applied, or None when it changes nothing (an agent
    re-sends "ready" after every reconnect: the second time is no news)."""
    svc = serving_pb2.Service()
    svc.CopyFrom(service)
    replica = next((r for r in svc.replicas if r.workload == facts.replica), None)
    if replica is None or not facts.on_placed_node or replica.state == DRAINING:
        return None  # an old run's news, or a replica on its way out (it keeps draining)
    if facts.kind == "ready" and facts.port > 0:
        replica.endpoint = f"{facts.host}:{facts.port}"
        _set_state(replica, READY, now)
        svc.failure_streak = 0
        svc.replace_after_unix = 0.0
    elif facts.kind == "unready" and replica.state == READY:
        _set_state(replica, STARTING, now, "health check failing")
    elif facts.kind == "exited" and facts.outcome == "restarting":
        replica.restarts += 1
        quick = replica.state != READY or now - replica.state_since_unix < CRASH_WINDOW_S
        if quick:
            _set_state(
                replica,
                CRASH_LOOP,
                now,
                f"crash loop: {facts.exit_text}, restarted {plural(replica.restarts, 'time')}",
            )
        else:
            _set_state(replica, STARTING, now, f"{facts.exit_text}; restarted")
    elif facts.kind in ("started", "restarted") and replica.state == PENDING:
        _set_state(replica, STARTING, now)
    else:
        return None
    svc.ready = sum(1 for r in svc.replicas if is_routable(r))
    return None if svc == service else svc


def endpoints_of(service: serving_pb2.Service) -> list[tuple[str, str]]:
    """(replica, host:port) of the replicas the gateways may route to."""
    if service.deleting:
        return []
    return [(r.workload, r.endpoint) for r in service.replicas if is_routable(r)]


def replica_spec(service: serving_pb2.Service, index: int) -> types_pb2.WorkloadSpec:
    """Replica `index`'s workload spec: the template, marked as this service's replica."""
    spec = types_pb2.WorkloadSpec()
    spec.CopyFrom(service.spec.template)
    spec.service = service.name  # the optimizer spreads one service's replicas
    spec.labels[SERVICE_LABEL] = service.name
    launch = spec.launch
    launch.serve = True
    launch.health_path = health_path(service.spec)
    launch.env["AIWO_REPLICA"] = str(index)
    launch.restart_policy = types_pb2.RESTART_POLICY_ON_FAILURE
    return spec
