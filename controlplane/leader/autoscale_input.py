"""The autoscale core in the controller: ScaleSnapshot from the caches, plan_scale, Decisions.

Once a second: per service its bounds and SLO targets (the template's hints), its replicas
(ready, starting, draining; a crash-looping or pending replica counts as starting, so it
never makes the autoscaler add more), the gateway samples new since the previous pass,
and free capacity: `room` is how many more replicas of the template fit now (the
optimizer's own placement core, optimizer/room.py), `room_by_preemption` how many more
would fit once lower-priority work was preempted or migrated. The replicas the plan adds
beyond `room` are created like any others; the reconciler's placement pass preempts for
them (a replica outranks batch work), once, with the minimum runtime protecting young work:
nothing here loops.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from controlplane.leader.autoscaler import Decision
from controlplane.leader.replica_step import DRAINING, READY
from controlplane.optimizer import OptimizerConfig
from controlplane.optimizer.autoscale import (
    AutoscaleConfig,
    AutoscaleMemory,
    ReplicaState,
    ReplicaView,
    ScaleSnapshot,
    ServiceTargets,
    ServiceView,
    TrafficSample,
    plan_scale,
)
from controlplane.optimizer.room import replica_room
from controlplane.optimizer.types import Snapshot
from controlplane.rpc.validation import resolve_priority
from controlplane.view.cluster import ClusterState
from controlplane.view.snapshot import build_snapshot, request_of
from sdk._text import plural
from sdk.pb.aiwo.v1 import serving_pb2


def _target(value: float) -> float | None:
    return value if value > 0 else None


def _state(replica: serving_pb2.Replica) -> ReplicaState:
    if replica.state == DRAINING:
        return "draining"
    if replica.state == READY and replica.endpoint:
        return "ready"
    return "starting"


class CorePlanner:
    """Holds what the core learns (memory) and the cursor into each service's samples."""

    def __init__(
        self,
        optimizer_config: OptimizerConfig,
        config: AutoscaleConfig | None = None,
    ) -> None:
        self.optimizer_config = optimizer_config
        self.config = config or AutoscaleConfig()
        self.memory = AutoscaleMemory()
        self.cursors: dict[str, int] = {}
        self.plan_s = 0.0  # the last pass's time in plan_scale (for logs)

    def __call__(
        self,
        state: ClusterState,
        services: Sequence[tuple[str, serving_pb2.Service]],
        now: float,
    ) -> list[Decision]:
        snapshot = build_snapshot(state)
        views = tuple(self.view(state, snapshot, key, s, now) for key, s in services)
        start = time.perf_counter()
        plan = plan_scale(ScaleSnapshot(views), self.memory, now, self.config)
        self.plan_s = time.perf_counter() - start
        for gone in set(self.cursors) - {key for key, _ in services}:
            del self.cursors[gone]
        floors = {
            key: s.pinned if s.HasField("pinned") else s.spec.min_replicas for key, s in services
        }
        return [
            Decision(
                service=d.service,
                # min_replicas (or a pin) holds even with no room: the replicas wait as
                # PENDING, and `explain` says what blocks them.
                desired=max(d.desired, floors.get(d.service, 0)),
                reason=d.why
                if d.desired >= floors.get(d.service, 0)
                else f"{plural(floors[d.service], 'replica')} by min_replicas or pin; {d.why}",
                remove=d.remove,
                blocked=d.blocked or "",
                fields=tuple(sorted({**dict(d.fields), "needs_room": str(d.needs_room)}.items())),
            )
            for d in plan.decisions
        ]

    def view(
        self,
        state: ClusterState,
        snapshot: Snapshot,
        key: str,
        service: serving_pb2.Service,
        now: float,
    ) -> ServiceView:
        spec = service.spec
        slo = spec.template.slo
        samples = state.traffic.samples_after(key, self.cursors.get(key, 0))
        if samples:
            self.cursors[key] = samples[-1].seq
        active = [r for r in service.replicas if r.state != DRAINING]
        room, by_preemption = replica_room(
            snapshot,
            request_of(spec.template.resources),
            service.name,
            spec.max_replicas - len(active),
            sum(
                1
                for r in active
                if state.placements.get(f"{service.namespace}/{r.workload}") is None
            ),
            self.optimizer_config,
            resolve_priority(spec.template),
        )
        return ServiceView(
            key=key,
            min_replicas=spec.min_replicas,
            max_replicas=spec.max_replicas,
            pinned=service.pinned if service.HasField("pinned") else None,
            targets=ServiceTargets(
                ttft_ms=_target(slo.ttft_ms),
                tpot_ms=_target(slo.tpot_ms),
                p99_ms=_target(slo.p99_latency_ms),
            ),
            replicas=tuple(self._replica(state, service, r, now) for r in service.replicas),
            traffic=tuple(
                TrafficSample(
                    time_unix=s.received_unix,  # one clock for every gateway: ours
                    interval_s=s.interval_s,
                    arrivals=s.arrivals,
                    completed=s.completed,
                    errors=s.errors,
                    in_flight=s.in_flight,
                    queued=s.queued,
                    ttft_p99_ms=s.ttft_p99_ms,
                    chunk_gap_p99_ms=s.chunk_gap_p99_ms,
                    latency_p99_ms=s.latency_p99_ms,
                )
                for s in samples
            ),
            room=room,
            room_by_preemption=by_preemption,
        )

    def _replica(
        self,
        state: ClusterState,
        service: serving_pb2.Service,
        replica: serving_pb2.Replica,
        now: float,
    ) -> ReplicaView:
        wkey = f"{service.namespace}/{replica.workload}"
        placement = state.placements.get(wkey)
        frees_gpu = frees_node = False
        if placement is not None:
            others = [p for p in state.node_workloads(placement.node) if p.workload != wkey]
            frees_node = not others
            frees_gpu = not any(set(p.gpus) & set(placement.gpus) for p in others)
        return ReplicaView(
            name=replica.workload,
            state=_state(replica),
            since_unix=replica.state_since_unix,
            in_flight=state.traffic.replica_in_flight(wkey, now),
            frees_gpu=frees_gpu and bool(placement is not None and placement.gpus),
            frees_node=frees_node,
        )
