"""The controller's read model: etcd caches plus what lives only in memory.

Everything a service or the optimizer reads comes from here; nothing here writes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from controlplane.etcd.cache import PrefixCache
from controlplane.etcd.keys import Keys
from controlplane.etcd.store import EtcdStore
from controlplane.view.health import throttles_of
from controlplane.view.latency import SloTracker
from controlplane.view.snapshot import NodeViews
from controlplane.view.telemetry import FIELDS, TelemetryStore
from controlplane.view.traffic import TrafficStore
from sdk.pb.aiwo.v1 import serving_pb2, types_pb2

# The sample's fields that `aiwo gpus` shows: those the Gpu message has under the same name.
GPU_VIEW_FIELDS = tuple(f for f in FIELDS if f in types_pb2.Gpu.DESCRIPTOR.fields_by_name)


@dataclass
class Liveness:
    """Heartbeats are kept in memory only (KEP-589's lesson): etcd sees state changes."""

    last_heartbeat: dict[str, float] = field(default_factory=dict)
    grace_until: float = 0.0  # after a leader change: no node goes NotReady before this

    def beat(self, node: str, now: float) -> None:
        self.last_heartbeat[node] = now

    def grace_all(self, nodes: list[str], now: float, window_s: float = 0.0) -> None:
        """After a leader change, every node starts with a full grace window, and for
        `window_s` none is marked NotReady: all agents reconnect to the new leader at once,
        and are admitted at a pace, so silence is not yet a sign of a dead node."""
        for node in nodes:
            self.last_heartbeat[node] = now
        self.grace_until = now + window_s

    def grace_s(self, node_grace_s: float, now: float) -> float:
        """The silence that makes a node NotReady now: the node grace, and none at all while
        the leader-change window lasts (a node silent through it goes NotReady at its end)."""
        return math.inf if now < self.grace_until else node_grace_s


class ClusterState:
    def __init__(self, store: EtcdStore, keys: Keys, telemetry: TelemetryStore) -> None:
        self.keys = keys
        self.nodes: PrefixCache[types_pb2.Node] = PrefixCache(store, keys.nodes, types_pb2.Node)
        self.workloads: PrefixCache[types_pb2.Workload] = PrefixCache(
            store, keys.workloads, types_pb2.Workload
        )
        self.placements: PrefixCache[types_pb2.PlacementRecord] = PrefixCache(
            store, keys.placements, types_pb2.PlacementRecord
        )
        self.commands: PrefixCache[types_pb2.Command] = PrefixCache(
            store, keys.commands, types_pb2.Command
        )
        self.events: PrefixCache[types_pb2.Event] = PrefixCache(store, keys.events, types_pb2.Event)
        # Services with replicas (docs/serving.md); gateway traffic stays in memory.
        self.services: PrefixCache[serving_pb2.Service] = PrefixCache(
            store, keys.services, serving_pb2.Service
        )
        self.traffic = TrafficStore()
        self.telemetry = telemetry
        self.slo = SloTracker()
        self.liveness = Liveness()
        # Per node, what is placed there and its commands: an agent's (re)connect and a
        # node's GPU view read these, and scanning every placement for each of 10,000 nodes
        # after a failover is quadratic.
        self._placed_on: dict[str, dict[str, types_pb2.PlacementRecord]] = {}
        self._node_of: dict[str, str] = {}
        self._commands_of: dict[str, dict[str, types_pb2.Command]] = {}
        self.placements.subscribe(self._on_placement)
        self.commands.subscribe(self._on_command)
        # The optimizer's node views, current with the nodes cache (the placement pass and
        # Register's fit check read them instead of converting every node each time).
        self.node_views = NodeViews(self.nodes)
        # Written by the leader's runtime loop: attributed energy and SLO verdicts.
        self.energy_j: dict[str, float] = {}
        self.slo_status: dict[str, str] = {}
        # Whether a workload's application is attached (WorkloadService.Attach) here; set by
        # the server, which holds the sessions. None: not known (shown as stored).
        self.app_attached: Callable[[str], bool] | None = None
        # Written by the leader's autoscaler: per service, what keeps it from what it needs.
        self.scale_blocked: dict[str, str] = {}
        # ... and the reason of its latest plan, a change or a hold (`aiwo explain`: why now).
        self.scale_reason: dict[str, str] = {}

    @property
    def caches(self) -> tuple[PrefixCache, ...]:  # type: ignore[type-arg]
        return (
            self.nodes,
            self.workloads,
            self.placements,
            self.commands,
            self.events,
            self.services,
        )

    # ------------------------------------------------------------ derived views

    def _on_placement(self, key: str, placement: types_pb2.PlacementRecord | None) -> None:
        old = self._node_of.pop(key, None)
        if old is not None:
            placed = self._placed_on.get(old, {})
            placed.pop(key, None)
            if not placed:
                self._placed_on.pop(old, None)
        if placement is not None:
            self._node_of[key] = placement.node
            self._placed_on.setdefault(placement.node, {})[key] = placement

    def _on_command(self, key: str, command: types_pb2.Command | None) -> None:
        node = key.split("/", 1)[0]
        if command is None:
            held = self._commands_of.get(node, {})
            held.pop(key, None)
            if not held:
                self._commands_of.pop(node, None)
        else:
            self._commands_of.setdefault(node, {})[key] = command

    def node_workloads(self, node: str) -> list[types_pb2.PlacementRecord]:
        return list(self._placed_on.get(node, {}).values())

    def pending_commands(self, node: str) -> list[types_pb2.Command]:
        return sorted(self._commands_of.get(node, {}).values(), key=lambda c: c.id)

    def workload_view(self, key: str) -> types_pb2.Workload | None:
        """The stored workload with its placement and live SLO figures merged in."""
        stored = self.workloads.get(key)
        if stored is None:
            return None
        view = types_pb2.Workload()
        view.CopyFrom(stored)
        placement = self.placements.get(key)
        if placement is not None:
            view.node = placement.node
            view.gpus[:] = placement.gpus
            view.milli_gpu = placement.milli_gpu
            view.placed_unix = placement.placed_unix
            view.variant = placement.variant or view.variant
        view.energy_j = self.energy_j.get(key, view.energy_j)
        view.slo_status = self.slo_status.get(key, "")
        self._phase_from_process(key, view)
        return view

    def _phase_from_process(self, key: str, view: types_pb2.Workload) -> None:
        """A workload that runs itself (no launch spec) is RUNNING only while its process is
        attached. The stored phase turns RUNNING when the node acknowledges the assignment,
        which says nothing of the process, and nothing would turn it back when the process
        ends: after a restart, or a killed demo, it read "running" for ever. A managed
        workload's phase comes from its process's events on the node, so it is left alone."""
        if (
            view.phase != types_pb2.WORKLOAD_PHASE_RUNNING
            or view.spec.launch.command
            or self.app_attached is None
            or self.app_attached(key)
        ):
            return
        view.phase = types_pb2.WORKLOAD_PHASE_PLACED
        view.message = f"placed on {view.node or 'a node'}; its process is not attached"

    def gpu_views(self, node_name: str) -> list[types_pb2.Gpu]:
        node = self.nodes.get(node_name)
        if node is None:
            return []
        allocated: dict[int, int] = {}
        holders: dict[int, list[str]] = {}
        for placement in self.node_workloads(node_name):
            for index in placement.gpus:
                allocated[index] = allocated.get(index, 0) + placement.milli_gpu
                holders.setdefault(index, []).append(placement.workload)
        series = self.telemetry.get(node_name)
        gpus = []
        for info in node.info.gpus:
            gpu = types_pb2.Gpu(
                node=node_name,
                index=info.index,
                model=info.model,
                uuid=info.uuid,
                memory_total_mib=info.memory_total_mib,
                milli_allocated=min(allocated.get(info.index, 0), 1000),
                workloads=sorted(holders.get(info.index, [])),
            )
            latest = series.latest(info.index) if series is not None else None
            if latest is not None:
                gpu.sample_unix, sample = latest
                for name in GPU_VIEW_FIELDS:
                    setattr(gpu, name, getattr(sample, name))
                gpu.throttles[:] = throttles_of(sample.throttle_reasons)
            reason = node.unhealthy_gpus.get(info.index)
            if reason is not None:
                gpu.unhealthy = True
                gpu.health_reason = reason
            gpus.append(gpu)
        return gpus

    def node_view(self, name: str) -> types_pb2.Node | None:
        stored = self.nodes.get(name)
        if stored is None:
            return None
        view = types_pb2.Node()
        view.CopyFrom(stored)
        view.last_heartbeat_unix = self.liveness.last_heartbeat.get(
            name, stored.last_heartbeat_unix
        )
        placed = self.node_workloads(name)
        view.workloads = len(placed)
        view.gpu_milli_allocated = sum(p.milli_gpu * len(p.gpus) for p in placed)
        return view

    def events_for(self, object_prefix: str, limit: int) -> list[types_pb2.Event]:
        """Newest first, of every object whose name begins `object_prefix` ("" = all)."""
        return self._newest_events(limit, lambda e: e.object.startswith(object_prefix))

    def events_of(self, name: str, limit: int, since_unix: float = 0.0) -> list[types_pb2.Event]:
        """Newest first, of the object `name` ("service/default/chat") alone: not of another
        whose name it begins ("service/default/chatbot", "node/node-10"), nor of an earlier
        object of that name (a service deleted and created again) when `since_unix` is its
        creation."""
        return self._newest_events(limit, lambda e: e.object == name and e.time_unix >= since_unix)

    def _newest_events(
        self, limit: int, keep: Callable[[types_pb2.Event], bool]
    ) -> list[types_pb2.Event]:
        """Keys sort by time, so sorting keys sorts events."""
        chosen = []
        for _, event in sorted(self.events.items(), key=lambda kv: kv[0], reverse=True):
            if keep(event):
                chosen.append(event)
                if len(chosen) >= limit:
                    break
        return chosen
