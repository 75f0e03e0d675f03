"""The leader's autoscale pass: desired replicas per service, committed with their reason.

Once a second (before the replica driver's pass) it asks a planner what each service
should have, and commits `desired` and `last_scale` with one event per change whose
message is the decision's reason. The planner is `plan_scale` of controlplane/optimizer/
autoscale when that core is present (leader/autoscale_input.py builds its snapshot), and
otherwise the rule below: the pin, else min_replicas, and one replica for a scaled-to-zero
service that has requests waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from controlplane.leader.decisions import Batch, Conflict, Decisions
from controlplane.leader.serving import ServingDriver, stage_service
from controlplane.rpc.metrics import AUTOSCALE_LATENCY
from controlplane.view.cluster import ClusterState
from sdk._text import plural
from sdk.pb.aiwo.v1 import serving_pb2

log = structlog.get_logger("aiwo.autoscaler")

DEMAND_WINDOW_S = 60.0  # the fallback rule: demand seen this recently keeps one replica


@dataclass(frozen=True, slots=True)
class Decision:
    service: str  # "namespace/name"
    desired: int
    # Why, with its numbers, without the counts: the event's message opens with
    # "scale NS/NAME FROM -> TO:" built here from the committed record (scale_message).
    reason: str
    remove: tuple[str, ...] = ()  # replica workload names to drain first
    blocked: str = ""  # what keeps it from what it needs ("" = nothing)
    fields: tuple[tuple[str, object], ...] = field(default=())


Planner = Callable[[ClusterState, Sequence[tuple[str, serving_pb2.Service]], float], list[Decision]]


def fallback_plan(
    state: ClusterState, services: Sequence[tuple[str, serving_pb2.Service]], now: float
) -> list[Decision]:
    decisions = []
    for key, service in services:
        spec = service.spec
        if service.HasField("pinned"):
            desired, reason = service.pinned, f"pinned to {service.pinned}"
        else:
            recent = state.traffic.recent(key, now, DEMAND_WINDOW_S)
            demand = sum(s.arrivals + s.queued for s in recent)
            desired, reason = spec.min_replicas, f"min_replicas {spec.min_replicas}"
            if desired == 0 and demand > 0:
                desired = 1
                window = f"in the last {DEMAND_WINDOW_S:g} s"
                reason = f"scale from zero: {plural(demand, 'request')} {window}"
        desired = max(0, min(desired, spec.max_replicas))
        decisions.append(Decision(key, desired, reason))
    return decisions


def scale_message(service: str, from_replicas: int, to_replicas: int, reason: str) -> str:
    """The service_scaled event's message: the counts the record moved between (the same
    as the event's from/to fields and the ScaleRecord's), then the planner's reason."""
    return f"scale {service} {from_replicas} -> {to_replicas}: {reason}"


class Autoscaler:
    def __init__(
        self,
        state: ClusterState,
        decisions: Decisions,
        driver: ServingDriver,
        planner: Planner = fallback_plan,
    ) -> None:
        self.state = state
        self.decisions = decisions
        self.driver = driver
        self.planner = planner
        self.blocked = state.scale_blocked  # for `aiwo explain`: what blocks each service
        self.last_reason = state.scale_reason  # and why it has the count it has

    async def pass_once(self, now: float) -> None:
        services = [(k, s) for k, s in self.state.services.items() if not s.deleting]
        if not services:
            return
        start = time.perf_counter()
        plan = self.planner(self.state, services, now)
        for decision in plan:
            self.blocked[decision.service] = decision.blocked
            # The reason has no counts of its own (scale_message adds them to events).
            self.last_reason[decision.service] = f"desired {decision.desired}: {decision.reason}"
            self.driver.prefer_remove[decision.service] = decision.remove
            try:
                await self._commit(decision, now)
            except Conflict:
                self.driver.kick.set()  # the record changed meanwhile: decide again
        AUTOSCALE_LATENCY.observe(time.perf_counter() - start)
        known = {k for k, _ in services}
        for gone in set(self.blocked) - known:
            self.blocked.pop(gone, None)
            self.last_reason.pop(gone, None)
            self.driver.prefer_remove.pop(gone, None)

    async def _commit(self, decision: Decision, now: float) -> None:
        service = self.state.services.get(decision.service)
        if service is None or service.deleting:
            return
        if service.desired == decision.desired:
            return  # what blocks it stays in memory (`explain`): no write per pass
        updated = serving_pb2.Service()
        updated.CopyFrom(service)
        message = scale_message(
            decision.service, service.desired, decision.desired, decision.reason
        )
        updated.desired = decision.desired
        updated.last_scale.CopyFrom(
            serving_pb2.ScaleRecord(
                time_unix=now,
                from_replicas=service.desired,
                to_replicas=decision.desired,
                reason=decision.reason,
            )
        )
        batch = Batch()
        stage_service(self.decisions, batch, decision.service, updated)
        await self.decisions.commit(batch)
        self.decisions.events.emit(
            "service_scaled",
            f"service/{decision.service}",
            message,
            now,
            from_replicas=service.desired,
            to_replicas=decision.desired,
            **dict(decision.fields),
        )
        self.driver.kick.set()
