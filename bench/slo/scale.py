"""The aiwo run's replica control: the controller's autoscaler core and placement core.

Every control period, as the leader does (controlplane/leader/autoscale_input.py, then the
reconciler's placement pass):

1. Per service, a `ServiceView`: its replicas (a pending one counts as starting), the traffic
   samples of the seconds since the last call (arrivals, completed, in flight, the p99 of the
   TPOTs finished that second as the chunk-gap measure against the TPOT target), `room` (how
   many more replicas fit on free capacity: `optimizer.room.replica_room`) and
   `room_by_preemption` (how many more once lower-priority work is preempted: the same
   function with `free_below_priority`).
2. `plan_scale` (controlplane/optimizer/autoscale) decides each service's count: replicas to
   add are created pending, those to remove start draining (no new requests; they leave
   their GPU when the last request finished).
3. `optimize` (controlplane/optimizer) places what is pending, replicas first (priority 800
   over 100), preempting batch work where a replica fits nowhere free, and places preempted
   batch jobs again where room appears (after a scale-in, or elsewhere).

What the bench adds, as the agent would: a placed replica loads for `Scenario.cold_start_s`
before it takes requests; a preempted job stops at once and is pending; a job placed again
restarts for `Scenario.restart_s` before it runs. Nothing here decides: the cores do.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from bench.slo.cluster import Cluster, Replica, Service
from bench.slo.scenario import GpuSlot, Scenario
from bench.slo.service import LlmService
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
from controlplane.optimizer.optimize import optimize
from controlplane.optimizer.room import replica_room
from controlplane.optimizer.types import (
    Assignment,
    GpuView,
    NodeView,
    Request,
    Snapshot,
    WorkloadView,
)
from gpumodel.models import get_model

_NODE_CPU_MILLI = 64_000  # the scenario's nodes are never short of CPU or memory
_NODE_MEMORY_MIB = 512 * 1024


@dataclass
class Scaler:
    scenario: Scenario
    config: AutoscaleConfig = field(default_factory=AutoscaleConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    memory: AutoscaleMemory = field(default_factory=AutoscaleMemory)
    samples: dict[str, list[TrafficSample]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    reasons: list[str] = field(default_factory=list)  # the changes' reason lines, in order

    def sample(self, cluster: Cluster, end_s: float, interval_s: float) -> None:
        """Close one interval of every service's traffic (the gateway's per-second report)."""
        for key, svc in cluster.services.items():
            tpots = svc.tpots_ms
            self.samples.setdefault(key, []).append(
                TrafficSample(
                    time_unix=end_s,
                    interval_s=interval_s,
                    arrivals=svc.arrivals,
                    completed=svc.completed,
                    errors=0,
                    in_flight=svc.in_flight(),
                    queued=len(svc.held),
                    ttft_p99_ms=None,
                    chunk_gap_p99_ms=float(np.percentile(tpots, 99)) if tpots else None,
                    latency_p99_ms=None,
                )
            )
            svc.arrivals, svc.completed, svc.tpots_ms = 0, 0, []

    def control(self, cluster: Cluster, now: float) -> None:
        snapshot = optimizer_snapshot(cluster, self.scenario)
        views = tuple(self._view(cluster, snapshot, svc, now) for svc in cluster.services.values())
        self.samples = {}
        plan = plan_scale(ScaleSnapshot(views), self.memory, now, self.config)
        for d in plan.decisions:
            svc = cluster.services[d.service]
            if d.desired > d.current:
                self.counts["scale_up"] += 1
                for _ in range(d.desired - d.current):
                    svc.replicas.append(new_replica(svc, now))
            elif d.remove:
                self.counts["scale_down"] += 1
            for name in d.remove:
                for r in svc.replicas:
                    if r.key == name and r.state != "draining":
                        self._drain(svc, r, now)
            if d.changed or d.remove:
                self.reasons.append(f"{now:.0f} s: {d.reason}")
        self._place(cluster, now)

    def _view(self, cluster: Cluster, snapshot: Snapshot, svc: Service, now: float) -> ServiceView:
        s = self.scenario
        active = [r for r in svc.replicas if r.state != "draining"]
        room, by_preemption = replica_room(  # as CorePlanner.view does in the controller
            snapshot,
            Request(gpus=1, milli_gpu=svc.milli),
            svc.key,
            s.service_max_replicas - len(active),
            sum(1 for r in active if not r.placed),
            self.optimizer,
            s.service_priority,
        )
        return ServiceView(
            key=svc.key,
            min_replicas=1,
            max_replicas=s.service_max_replicas,
            pinned=None,
            targets=ServiceTargets(tpot_ms=s.target_ms),
            replicas=tuple(_replica_view(cluster, r) for r in svc.replicas),
            traffic=tuple(self.samples.get(svc.key, ())),
            room=room,
            room_by_preemption=by_preemption,
        )

    def _drain(self, svc: Service, r: Replica, now: float) -> None:
        if r.state == "pending":  # never placed: nothing to drain
            svc.replicas.remove(r)
            return
        r.state, r.since = "draining", now  # leaves once its last request finished

    def _place(self, cluster: Cluster, now: float) -> None:
        """The reconciler's placement pass: `optimize` over what is pending."""
        snapshot = optimizer_snapshot(cluster, self.scenario)
        if all(w.assignment is not None for w in snapshot.workloads):
            return
        plan = optimize(snapshot, now, self.optimizer)
        s = self.scenario
        for pre in plan.preemptions:
            job = cluster.jobs.get(pre.victim)
            if job is None:
                continue  # the optimizer never preempts a replica for another (same priority)
            job.slot, job.start_at, job.leave_at, job.target = None, None, None, None
            job.throttle, job.cpu_fraction = 1.0, 1.0
            job.preempted += 1
            self.counts["preemptions"] += 1
        replicas = {r.key: (svc, r) for svc in cluster.services.values() for r in svc.replicas}
        for p in plan.placements:
            slot = slot_of(p.node, p.gpus[0])
            if p.workload in replicas:
                _, r = replicas[p.workload]
                r.slot, r.state, r.since = slot, "starting", now
                r.ready_at = now + s.cold_start_s
                self.counts["replicas_placed"] += 1
            elif p.workload in cluster.jobs:
                job = cluster.jobs[p.workload]
                job.slot, job.start_at, job.placed_at = slot, now + s.restart_s, now
                self.counts["jobs_placed"] += 1


def new_replica(svc: Service, now: float) -> Replica:
    svc.added += 1
    first = svc.sim
    sim = LlmService(
        f"{svc.key}-r{svc.added}",
        first.arrival_s,
        first.prompt_tokens,
        first.output_tokens,
        first.params,
        routed=True,
    )
    return Replica(sim.key, sim, svc.milli, None, "pending", now, 0.0)


def advance_replicas(cluster: Cluster, now: float) -> None:
    """Loaded replicas become ready; drained ones leave their GPU."""
    for svc in cluster.services.values():
        for r in list(svc.replicas):
            if r.state == "starting" and now >= r.ready_at:
                r.state, r.since = "ready", now
            elif r.state == "draining" and r.sim.outstanding == 0:
                svc.replicas.remove(r)


def slot_of(node: str, gpu: int) -> GpuSlot:
    return (int(node.rsplit("-", 1)[1]), gpu)


def _replica_view(cluster: Cluster, r: Replica) -> ReplicaView:
    state: ReplicaState = "starting" if r.state == "pending" else r.state
    alone = r.slot is not None and cluster.free_milli(r.slot) + r.milli == 1000
    node_alone = r.slot is not None and all(
        cluster.free_milli((r.slot[0], g)) == 1000
        for g in range(len([sl for sl in cluster.gpus if sl[0] == r.slot[0]]))
        if g != r.slot[1]
    )
    return ReplicaView(
        name=r.key,
        state=state,
        since_unix=r.since,
        in_flight=r.sim.outstanding,
        frees_gpu=alone,
        frees_node=alone and node_alone,
    )


def optimizer_snapshot(cluster: Cluster, s: Scenario) -> Snapshot:
    """The simulated cluster as the placement core sees it."""
    model = get_model(s.gpu_model)
    nodes = tuple(
        NodeView(
            name=f"node-{n}",
            cpu_milli=_NODE_CPU_MILLI,
            memory_mib=_NODE_MEMORY_MIB,
            gpus=tuple(
                GpuView(g, model.name, model.memory_total_mib) for g in range(s.gpus_per_node)
            ),
        )
        for n in range(s.nodes)
    )
    workloads: list[WorkloadView] = []
    for key, job in sorted(cluster.jobs.items()):
        workloads.append(
            WorkloadView(
                key,
                s.batch_priority,
                Request(gpus=1, milli_gpu=job.milli),
                0.0,
                _assignment(job.slot, job.milli, job.placed_at),
            )
        )
    for svc in cluster.services.values():
        for r in svc.replicas:
            workloads.append(
                WorkloadView(
                    r.key,
                    s.service_priority,
                    Request(gpus=1, milli_gpu=r.milli),
                    r.since,
                    _assignment(r.slot, r.milli, r.since) if r.placed else None,
                    service=svc.key,
                    p99_latency_target_ms=s.target_ms,
                )
            )
    return Snapshot(nodes, tuple(workloads))


def _assignment(slot: GpuSlot | None, milli: int, since: float) -> Assignment | None:
    if slot is None:
        return None
    return Assignment(f"node-{slot[0]}", (slot[1],), milli, since)
