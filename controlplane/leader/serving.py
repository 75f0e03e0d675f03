"""The leader's replica driver: applies controlplane/leader/replica_step.py to etcd.

Each pass (about once a second, and at once when something changes) reads every service
record and its replicas' workloads and placements from the caches, calls the pure `step`,
and commits what it decided in one fenced transaction per service: the service record, the
new replicas' workload records (the reconciler then places them and the agent starts them,
like `aiwo run` workloads), and the stopped replicas' release (StopWorkload with a grace,
unassign, the workload record deleted). A new leader resumes from the same records: a
replica is created in the same transaction that lists it in its service, so a failover
never duplicates or orphans one.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Callable

import structlog

from controlplane.etcd.store import Write
from controlplane.leader import replica_step
from controlplane.leader.decisions import Batch, Conflict, Decisions
from controlplane.leader.lifecycle import exit_text
from controlplane.leader.passes import run_passes
from controlplane.rpc.validation import resolve_priority
from controlplane.view.cluster import ClusterState
from sdk.pb.aiwo.v1 import node_pb2, serving_pb2, types_pb2

log = structlog.get_logger("aiwo.serving")

PASS_INTERVAL_S = 1.0
LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


def stage_service(
    decisions: Decisions, batch: Batch, key: str, record: serving_pb2.Service | None
) -> None:
    """Write (or delete, record None) a service record in `batch`, decided on the cached one."""
    batch.expected.setdefault(("services", key), decisions.state.services.get(key))
    value = None if record is None else record.SerializeToString()
    batch.writes.append(Write(decisions.keys.service(key), value))
    batch.cache_updates.append(("services", key, record))


def node_host(state: ClusterState, node: str, local_names: frozenset[str]) -> str:
    """Where a replica on `node` is reached: the node's address, 127.0.0.1 for this host."""
    record = state.nodes.get(node)
    address = record.info.address if record is not None else ""
    return "127.0.0.1" if address in LOCAL_HOSTS or address in local_names else address


def _local_names() -> frozenset[str]:
    names = {socket.gethostname()}
    try:
        names.add(socket.getfqdn())
    except OSError:  # pragma: no cover - resolver trouble: the short name still counts
        pass
    return frozenset(names)


class ServingDriver:
    def __init__(
        self,
        state: ClusterState,
        decisions: Decisions,
        wake: asyncio.Event,
        interval_s: float = PASS_INTERVAL_S,
    ) -> None:
        self.state = state
        self.decisions = decisions
        self.wake = wake  # the reconciler's: new replicas want a placement
        self.kick = asyncio.Event()  # ours: a service or a replica changed
        self.interval_s = interval_s
        self.local_names = _local_names()
        # Set by the autoscaler each pass: replicas it would remove first, per service.
        self.prefer_remove: dict[str, tuple[str, ...]] = {}
        self.before_pass: Callable[[float], object] | None = None
        state.services.subscribe(lambda *_: self.kick.set())
        state.placements.subscribe(lambda *_: self.kick.set())
        state.nodes.subscribe(lambda *_: self.kick.set())  # a silent node's replicas leave

    async def run(self) -> None:
        """Runs while this controller leads; returns when leadership is lost."""
        self.state.traffic.start_listening(time.time())
        await run_passes(
            self.decisions.store,
            self.kick,
            lambda: self.interval_s,
            self._pass_with_hook,
            log,
            "serving_pass_failed",
        )

    async def _pass_with_hook(self, now: float) -> None:
        if self.before_pass is not None:
            result = self.before_pass(now)
            if asyncio.iscoroutine(result):
                await result
        await self.pass_once(now)

    # ------------------------------------------------------------ passes

    async def pass_once(self, now: float) -> None:
        owned = self._owned_workloads()
        for key, service in self.state.services.items():
            try:
                await self.step_service(key, service, owned, now)
            except Conflict:
                self.kick.set()  # decided on a record that changed: next pass

    def _owned_workloads(self) -> dict[str, str]:
        """Workload key -> the service key it is a replica of."""
        owned: dict[str, str] = {}
        for key, workload in self.state.workloads.items():
            service = workload.spec.labels.get(replica_step.SERVICE_LABEL)
            if service:
                owned[key] = f"{workload.namespace}/{service}"
        return owned

    def step_input(
        self,
        key: str,
        service: serving_pb2.Service,
        owned: dict[str, str],
        now: float,
        scan: bool = False,
    ) -> replica_step.StepInput:
        namespace = service.namespace
        world: dict[str, replica_step.ReplicaWorld] = {}
        drained = set()
        for replica in service.replicas:
            wkey = f"{namespace}/{replica.workload}"
            workload = self.state.workloads.get(wkey)
            if workload is None:
                continue
            placement = self.state.placements.get(wkey)
            node = self.state.nodes.get(placement.node) if placement is not None else None
            world[replica.workload] = replica_step.ReplicaWorld(
                phase=workload.phase,
                message=workload.message,
                node=placement.node if placement is not None else "",
                placed_unix=placement.placed_unix if placement is not None else 0.0,
                node_ready=node is None or node.state == types_pb2.NODE_STATE_READY,
            )
            if replica.state == replica_step.DRAINING and self.state.traffic.drained(
                wkey, replica.state_since_unix, now
            ):
                drained.add(replica.workload)
        taken: frozenset[str] = frozenset()
        active = sum(1 for r in service.replicas if r.state != replica_step.DRAINING)
        if scan or active < service.desired:  # only a pass that may create needs the scan
            prefix = f"{namespace}/{service.name}-"
            taken = frozenset(
                wkey.split("/", 1)[1]
                for wkey, _ in self.state.workloads.items()
                if wkey.startswith(prefix) and owned.get(wkey) != key
            )
        return replica_step.StepInput(
            service=service,
            world=world,
            drained=frozenset(drained),
            taken=taken,
            prefer_remove=self.prefer_remove.get(key, ()),
        )

    async def step_service(
        self, key: str, service: serving_pb2.Service, owned: dict[str, str], now: float
    ) -> replica_step.Step:
        result = replica_step.step(self.step_input(key, service, owned, now), now)
        namespace = service.namespace
        if any(self.state.workloads.get(f"{namespace}/{r.workload}") for r in result.create):
            # A name another workload holds (the scan was skipped): decide again with it.
            result = replica_step.step(self.step_input(key, service, owned, now, True), now)
        if not (result.changed or result.create or result.remove):
            return result
        batch = Batch()
        stage_service(self.decisions, batch, key, result.service)
        for replica in result.create:
            self._stage_replica(batch, service, replica, now)
        for name in result.remove:
            self._stage_removal(batch, f"{service.namespace}/{name}", now)
        await self.decisions.commit(batch)
        for event in result.events:
            self.decisions.events.emit(
                event.kind, f"service/{key}", event.message, now, **dict(event.fields)
            )
        if result.service is None:
            self.state.traffic.forget(key)
        if result.create or result.remove:
            self.wake.set()  # the reconciler places new replicas
        return result

    def _stage_replica(
        self,
        batch: Batch,
        service: serving_pb2.Service,
        replica: serving_pb2.Replica,
        now: float,
    ) -> None:
        spec = replica_step.replica_spec(service, replica.index)
        workload = types_pb2.Workload(
            name=replica.workload,
            namespace=service.namespace,
            uid=uuid.uuid4().hex,
            spec=spec,
            phase=types_pb2.WORKLOAD_PHASE_PENDING,
            message="waiting for placement",
            generation=1,
            created_unix=now,
            priority=resolve_priority(spec),
        )
        self.decisions.stage_workload(batch, f"{service.namespace}/{replica.workload}", workload)

    def _stage_removal(self, batch: Batch, wkey: str, now: float) -> None:
        placement = self.state.placements.get(wkey)
        if placement is not None:
            self.decisions.stage_placement(batch, wkey, None)
            self.decisions.stage_release(batch, wkey, placement.node, now, stop=True)
        if self.state.workloads.get(wkey) is not None:
            self.decisions.stage_delete_workload(batch, wkey)
        self.state.slo.forget(wkey)

    # ------------------------------------------------------------ process events

    def service_of(self, workload_key: str) -> str | None:
        workload = self.state.workloads.get(workload_key)
        if workload is None:
            return None
        service = workload.spec.labels.get(replica_step.SERVICE_LABEL)
        return f"{workload.namespace}/{service}" if service else None

    async def on_process_event(self, node: str, event: node_pb2.ProcessEvent, now: float) -> None:
        """A replica's process news (NodeService): readiness is written on change only."""
        key = self.service_of(event.workload)
        if key is None or self.decisions.store.epoch <= 0:
            return
        for attempt in range(3):  # decided on a record another decision changed: again
            try:
                await self._apply_event(key, node, event, now)
                return
            except Conflict:
                if attempt == 2:
                    raise

    async def _apply_event(
        self, key: str, node: str, event: node_pb2.ProcessEvent, now: float
    ) -> None:
        service = self.state.services.get(key)
        if service is None:
            return
        placement = self.state.placements.get(event.workload)
        facts = replica_step.ProcessFacts(
            replica=event.workload.split("/", 1)[1],
            kind=event.kind,
            outcome=event.outcome,
            port=event.port,
            exit_text=exit_text(event),
            host=node_host(self.state, node, self.local_names),
            on_placed_node=placement is not None and placement.node == node,
        )
        updated = replica_step.on_process_event(service, facts, now)
        if updated is None:
            return
        batch = Batch()
        stage_service(self.decisions, batch, key, updated)
        await self.decisions.commit(batch)
        before = {r.workload: r.state for r in service.replicas}
        for replica in updated.replicas:
            if before.get(replica.workload) != replica.state:
                state = serving_pb2.ReplicaState.Name(replica.state)
                self.decisions.events.emit(
                    "replica_" + state.removeprefix("REPLICA_STATE_").lower(),
                    f"service/{key}",
                    f"replica {updated.namespace}/{replica.workload} "
                    f"{state.removeprefix('REPLICA_STATE_').lower().replace('_', ' ')}"
                    + (f" at {replica.endpoint}" if replica.state == replica_step.READY else "")
                    + (f": {replica.message}" if replica.message else ""),
                    now,
                    node=node,
                    replica=replica.workload,
                )
        self.kick.set()
