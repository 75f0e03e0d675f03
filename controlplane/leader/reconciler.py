"""The leader's loops: optimize placements, watch node liveness, expire commands.

Each pass reads an immutable snapshot, calls the pure policy, and commits what it decided.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from controlplane.app.config import ControllerConfig
from controlplane.leader.decisions import Batch, Decisions
from controlplane.leader.passes import run_passes
from controlplane.optimizer import OptimizerConfig, Unschedulable, optimize
from controlplane.rpc.metrics import OPTIMIZE_LATENCY
from controlplane.view.cluster import ClusterState
from controlplane.view.snapshot import build_snapshot, has_pending
from sdk.pb.aiwo.v1 import types_pb2

log = structlog.get_logger("aiwo.reconciler")


class Reconciler:
    def __init__(
        self,
        config: ControllerConfig,
        optimizer_config: OptimizerConfig,
        state: ClusterState,
        decisions: Decisions,
        wake: asyncio.Event,
    ) -> None:
        self.config = config
        self.optimizer_config = optimizer_config
        self.state = state
        self.decisions = decisions
        self.wake = wake
        # What the last pass could not place: capacity pressure for the runtime loop.
        self.unschedulable: tuple[Unschedulable, ...] = ()

    async def run(self) -> None:
        """Runs while this controller leads; returns when leadership is lost."""
        await run_passes(
            self.decisions.store,
            self.wake,
            lambda: self.config.optimize_interval_s,
            self.reconcile_once,
            log,
            "reconcile_failed",
        )

    async def reconcile_once(self, now: float) -> None:
        await self.check_liveness(now)
        await self.expire_commands(now)
        await self.optimize_once(now)

    async def optimize_once(self, now: float) -> None:
        if not has_pending(self.state):
            self.unschedulable = ()
            return
        start = time.perf_counter()
        # The incremental part of a pass: node views follow the nodes cache (ClusterState),
        # and their capacity arrays are rebuilt only when a node changed.
        nodes = self.state.node_views.arrays(self.optimizer_config.seed)
        snapshot = build_snapshot(self.state, nodes[0])
        plan = optimize(snapshot, now, self.optimizer_config, nodes)
        self.unschedulable = plan.unschedulable
        await self.decisions.apply_plan(plan, now)
        OPTIMIZE_LATENCY.observe(time.perf_counter() - start)

    async def check_liveness(self, now: float) -> None:
        grace = self.state.liveness.grace_s(self.config.node_grace_s, now)
        evict_after = grace + self.config.eviction_grace_s
        for name, node in self.state.nodes.items():
            last = self.state.liveness.last_heartbeat.get(name)
            if last is None:
                self.state.liveness.beat(name, now)  # first sight: a full grace window
                continue
            silent_s = now - last
            if node.state == types_pb2.NODE_STATE_READY and silent_s > grace:
                updated = types_pb2.Node()
                updated.CopyFrom(node)
                updated.state = types_pb2.NODE_STATE_NOT_READY
                updated.reason = f"no heartbeat for {silent_s:.1f}s (grace {grace:g}s)"
                updated.last_heartbeat_unix = last
                await self.decisions.commit_node(updated)
                self.decisions.events.emit(
                    "node_not_ready", f"node/{name}", updated.reason, now, silent_s=silent_s
                )
            elif node.state == types_pb2.NODE_STATE_NOT_READY and silent_s > evict_after:
                await self.evict(name, silent_s, now)

    async def evict(self, node_name: str, silent_s: float, now: float) -> None:
        placements = self.state.node_workloads(node_name)
        if not placements:
            return
        batch = Batch()
        for placement in placements:
            message = f"node {node_name} not ready for {silent_s:.0f}s; requeued"
            self.decisions.unplace(batch, placement.workload, placement, message, now)
            self.decisions.events.emit(
                "workload_evicted",
                f"workload/{placement.workload}",
                message,
                now,
                node=node_name,
            )
        await self.decisions.commit(batch)
        self.wake.set()

    async def expire_commands(self, now: float) -> None:
        expired = [
            (key.split("/", 1)[0], command)
            for key, command in self.state.commands.items()
            if command.deadline_unix and command.deadline_unix < now
        ]
        # A node that is gone or silent cannot run them: fail with a reason, keep the log.
        for node, command in expired:
            node_record = self.state.nodes.get(node)
            if node_record is not None and node_record.state == types_pb2.NODE_STATE_READY:
                continue  # still deliverable: the agent will get it (and it is idempotent)
            reason = "node is gone" if node_record is None else "node not ready past the deadline"
            self.decisions.events.emit(
                "command_failed",
                f"node/{node}",
                f"command {command.id}: {reason}",
                now,
                command_id=command.id,
                action=command.WhichOneof("action") or "",
            )
            await self.decisions.delete_commands(node, [command.id])
