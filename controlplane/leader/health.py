"""The leader's GPU health handling: mark unhealthy, show throttles, move work off.

Each telemetry report runs the rules of view/health.py. A GPU they find unhealthy is written
into the node record (`Node.unhealthy_gpus`) once, when it changes, never per report, so a
new leader keeps it; the optimizer's `gpu_healthy` filter then keeps new work off it. Work
already on it is migrated with its checkpoint (the machinery `aiwo drain` uses, requested by
"health"); when that cannot start, or a health migration of it failed and rolled back onto
the bad GPU, it is requeued to restart elsewhere. Every step is an event with its reason.
Throttles are shown (events on change, `aiwo gpus`) and never make a GPU unhealthy.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

import numpy as np
import structlog

from controlplane.leader.decisions import Batch, Decisions
from controlplane.leader.migration import MigrationRefused, Migrations
from controlplane.leader.migration_types import FAILED
from controlplane.view.cluster import ClusterState
from controlplane.view.health import SHOWN_THROTTLES, HealthMemory, throttles_of
from controlplane.view.telemetry import FIELD_INDEX, NodeTelemetry
from sdk.pb.aiwo.v1 import types_pb2

log = structlog.get_logger("aiwo.health")

HEALTH_REQUESTER = "health"
# A GPU's throttle events at most this often: a GPU at its thermal limit flaps every few
# seconds, and a fleet of them would flood the event log (`aiwo gpus` shows the live state).
THROTTLE_EVENT_INTERVAL_S = 30.0
_THROTTLE = FIELD_INDEX["throttle_reasons"]
_ECC = FIELD_INDEX["ecc_uncorrected"]
_HEALTH_COLUMNS = [_THROTTLE, _ECC]


class GpuHealth:
    def __init__(
        self,
        state: ClusterState,
        decisions: Decisions,
        migrations: Migrations | None,
        on_change: asyncio.Event,
    ) -> None:
        self.state = state
        self.decisions = decisions
        self.migrations = migrations
        self.on_change = on_change
        self.memory = HealthMemory()
        # node -> GPUs found unhealthy and not yet written: kept until written, as the next
        # report no longer shows them (an XID is one event, a rise is seen once).
        self._found: dict[str, dict[int, str]] = {}
        self._last: dict[str, bytes] = {}  # node -> its last report's health columns
        self._throttle_pending: set[str] = set()  # nodes with a throttle change not yet told
        # node -> (throttle bits last told in an event, when: unix s), per GPU
        self._throttles: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def check(self, node_name: str, series: NodeTelemetry, now: float) -> bool:
        """The rules on a node's newest report (the caller stored it in `series`); throttle
        events emitted here. True when `act` has work: a GPU became unhealthy, or one
        already unhealthy may still hold work. Synchronous: a report with nothing new costs
        a few array operations, no coroutine."""
        if self.decisions.store.epoch <= 0:
            return False
        newest = series.latest_row()
        node = self.state.nodes.get(node_name)
        if newest is None or node is None:
            return False
        _, values = newest
        # Compared as bytes: the cheapest test, and NaN (no sample) equals itself bitwise.
        columns = values[:, _HEALTH_COLUMNS].tobytes()
        last = self._last.get(node_name)
        if (
            last is not None
            and not series.xid_events
            and node_name not in self._found
            and node_name not in self._throttle_pending
            and columns == last
        ):
            # The common case: nothing new since the last report.
            return bool(node.unhealthy_gpus) and bool(self.state.node_workloads(node_name))
        self._last[node_name] = columns
        self._show_throttles(node_name, values[:, _THROTTLE], now)
        found = self.memory.newly_unhealthy(
            node_name, values[:, _ECC], series.xid_events, node.unhealthy_gpus
        )
        if found:
            self._found.setdefault(node_name, {}).update(found)
        if node_name in self._found:
            return True
        return bool(node.unhealthy_gpus) and bool(self.state.node_workloads(node_name))

    async def act(self, node_name: str, now: float) -> None:
        """Write what `check` found and move work off the node's unhealthy GPUs."""
        node = self.state.nodes.get(node_name)
        if node is None:
            return
        found = self._found.get(node_name)
        if found:
            await self._mark(node, found, now)
            self._found.pop(node_name, None)
            node = self.state.nodes.get(node_name) or node
        if node.unhealthy_gpus:
            await self.evacuate(node_name, dict(node.unhealthy_gpus), now)

    def _show_throttles(self, node: str, reasons: np.ndarray, now: float) -> None:
        bits = np.where(np.isnan(reasons), 0, reasons).astype(np.int64) & SHOWN_THROTTLES
        said = self._throttles.get(node)
        if said is None or said[0].shape != bits.shape:
            said = self._throttles[node] = (
                np.zeros_like(bits),
                np.full(bits.shape, -math.inf),
            )
        said_bits, said_unix = said
        differs = bits != said_bits
        due = differs & (now - said_unix >= THROTTLE_EVENT_INTERVAL_S)
        if np.array_equal(differs, due):
            self._throttle_pending.discard(node)
        else:  # a change not told yet: look again at the next report, even if it is the same
            self._throttle_pending.add(node)
        for index in np.flatnonzero(due).tolist():
            value = int(bits[index])
            said_bits[index], said_unix[index] = value, now
            names = throttles_of(value)
            if names:
                self.decisions.events.emit(
                    "gpu_throttled",
                    f"node/{node}",
                    f"GPU {index} throttled: {', '.join(names)}",
                    now,
                    gpu=index,
                    reasons=f"0x{value:x}",
                )
            else:
                self.decisions.events.emit(
                    "gpu_throttle_cleared",
                    f"node/{node}",
                    f"GPU {index} no longer throttled",
                    now,
                    gpu=index,
                )

    async def _mark(self, node: types_pb2.Node, found: dict[int, str], now: float) -> None:
        updated = types_pb2.Node()
        updated.CopyFrom(node)
        for index, reason in found.items():
            if index not in updated.unhealthy_gpus:
                updated.unhealthy_gpus[index] = reason
        cordoning = cordon_if_all_unhealthy(updated)
        await self.decisions.commit_node(updated)
        for index, reason in sorted(found.items()):
            self.decisions.events.emit(
                "gpu_unhealthy",
                f"node/{node.name}",
                f"GPU {index} unhealthy: {reason}; no new work, its workloads move off",
                now,
                gpu=index,
                reason=reason,
            )
        if cordoning:
            self.decisions.events.emit(
                "node_cordoned", f"node/{node.name}", updated.reason, now,
                requested_by=HEALTH_REQUESTER,
            )  # fmt: skip
        self.on_change.set()

    async def evacuate(self, node_name: str, unhealthy: dict[int, str], now: float) -> None:
        """Move every workload that holds an unhealthy GPU of the node off it."""
        for placement in sorted(self.state.node_workloads(node_name), key=lambda p: p.workload):
            bad = sorted(set(placement.gpus) & unhealthy.keys())
            if not bad:
                continue
            key = placement.workload
            why = f"GPU {bad[0]} of {node_name} unhealthy: {unhealthy[bad[0]]}"
            record = self.migrations.cache.get(key) if self.migrations is not None else None
            if self.migrations is not None and self.migrations.active(key) is not None:
                continue
            workload = self.state.workloads.get(key)
            failed_before = (
                record is not None
                and record.phase == FAILED
                and record.requested_by == HEALTH_REQUESTER
                and workload is not None
                and record.uid == workload.uid
                and record.source_node == node_name
            )
            if self.migrations is not None and not failed_before:
                try:
                    await self.migrations.request(key, None, why, HEALTH_REQUESTER, now)
                    continue
                except MigrationRefused as exc:
                    cause = f"cannot migrate: {exc.reason}"
            else:
                cause = "its migration failed" if failed_before else "no migration available"
            await self._requeue(key, placement, f"{why}; {cause}; restarting elsewhere", now)

    async def _requeue(
        self, key: str, placement: types_pb2.PlacementRecord, message: str, now: float
    ) -> None:
        batch = Batch()
        self.decisions.unplace(batch, key, placement, message, now)
        await self.decisions.commit(batch)
        self.decisions.events.emit(
            "workload_requeued",
            f"workload/{key}",
            message,
            now,
            node=placement.node,
            requested_by=HEALTH_REQUESTER,
        )
        log.info("health_requeued", workload=key, node=placement.node)
        self.on_change.set()


def cordon_if_all_unhealthy(node: types_pb2.Node) -> bool:
    """A node none of whose GPUs is healthy takes no new work at all, CPU-only work
    included (what runs there stays until it moves or ends). True when it cordons `node`."""
    gpus = node_gpu_indexes(node)
    if node.cordoned or not gpus or not gpus <= set(node.unhealthy_gpus):
        return False
    node.cordoned = True
    node.reason = (
        f"every GPU unhealthy ({len(gpus)} of {len(gpus)}); after the repair: "
        f"aiwo uncordon {node.name} --clear-health"
    )
    return True


def node_gpu_indexes(node: types_pb2.Node) -> set[int]:
    """The node's GPU indexes as it registered them (else 0..gpu_count-1)."""
    indexes = {gpu.index for gpu in node.info.gpus}
    return indexes or set(range(node.gpu_count))


def clear_marks(node: types_pb2.Node, gpus: Sequence[int] | None) -> dict[int, str]:
    """An operator returns GPUs to service (after a repair): their unhealthy marks go from
    `node` (`gpus` None: every GPU's). What was cleared, with the reasons it had.

    The leader's ECC baseline stays where it was, so the old count does not mark a GPU
    again; a new fatal XID or a further ECC rise does."""
    chosen = set(node.unhealthy_gpus) if gpus is None else set(gpus)
    cleared = {i: node.unhealthy_gpus[i] for i in sorted(chosen) if i in node.unhealthy_gpus}
    for index in cleared:
        del node.unhealthy_gpus[index]
    return cleared
