"""The leader's runtime loop: SLO guard, energy caps and model variants, every control period.

It builds a `RuntimeSnapshot` from the caches (inventory, latest telemetry, rolling p99s,
what the placement core could not place), calls the pure `plan_runtime`, and turns each
action into fenced commands and directives with one event each (actions.py has the table).
It also attributes each GPU's measured power to the workloads on it, as energy.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from controlplane.etcd.store import FencingError
from controlplane.leader.decisions import Batch, Conflict, Decisions
from controlplane.optimizer.runtime import (
    DirectiveThrottle,
    DirectiveUnthrottle,
    LockClocks,
    Migrate,
    PendingWork,
    ResetClocks,
    ResetPowerCap,
    RuntimeAction,
    RuntimeConfig,
    RuntimeGpu,
    RuntimeMemory,
    RuntimeSnapshot,
    RuntimeWorkload,
    SetPowerCap,
    SloState,
    SloVerdict,
    SwitchVariant,
    ThrottleProcess,
    UnthrottleProcess,
    VariantView,
    WorkloadClass,
    add_energy_j,
    attribute_power_w,
    plan_runtime,
)
from controlplane.optimizer.types import Unschedulable
from controlplane.view.cluster import ClusterState
from controlplane.view.telemetry import FIELD_INDEX
from sdk.pb.aiwo.v1 import types_pb2

# NodeInfo.capabilities an agent reports when it will change a GPU's power limit or clocks.
POWER_LIMIT_CAPABILITY = "power-limit"
CLOCK_LOCK_CAPABILITY = "clock-lock"

log = structlog.get_logger("aiwo.runtime")

# The telemetry columns the runtime pass reads, in the order it unpacks them.
_RUNTIME_COLUMNS = [FIELD_INDEX[f] for f in ("power_limit_w", "utilization_pct", "power_w")]


def runtime_workload(
    key: str,
    workload: types_pb2.Workload,
    milli: int,
    p99_ms: float | None,
    process_cpu_fraction: float | None = None,
    directive_factor: float | None = None,
) -> RuntimeWorkload:
    spec = workload.spec
    variants = tuple(
        VariantView(
            name=v.name,
            milli_gpu=v.resources.milli_gpu or 1000,
            gpu_memory_mib=v.resources.gpu_memory_mib,
            latency_factor=v.latency_factor or 1.0,
            accuracy_cost=v.accuracy_cost,
        )
        for v in spec.variants
    )
    latency = spec.slo.p99_latency_ms > 0
    return RuntimeWorkload(
        key=key,
        priority=workload.priority,
        milli_gpu=milli,
        workload_class=WorkloadClass.LATENCY if latency else WorkloadClass.BATCH,
        p99_target_ms=spec.slo.p99_latency_ms,
        p99_ms=p99_ms,
        variant=workload.variant,
        variants=variants,
        process_cpu_fraction=process_cpu_fraction,
        directive_factor=directive_factor,
    )


class GpuInventory:
    """Per Ready-candidate node, what the runtime pass reads from its record for each GPU,
    read once per record and not once per pass: the pass runs over every GPU of the fleet,
    and each field read of a protobuf record costs about as much as the rest of the work on
    that GPU. Kept current by the nodes cache's listener (a changed record is read again)."""

    def __init__(self, state: ClusterState | None = None) -> None:
        """With `state`, entries follow its nodes cache; without, it is for one pass (an
        entry is also read again whenever the record is another object than it was)."""
        self._of: dict[str, tuple[types_pb2.Node, tuple[_StaticGpu, ...]]] = {}
        if state is not None:
            state.nodes.subscribe(self._on_change)

    def _on_change(self, name: str, _node: types_pb2.Node | None) -> None:
        self._of.pop(name, None)

    def gpus(self, name: str, node: types_pb2.Node) -> tuple[_StaticGpu, ...]:
        cached = self._of.get(name)
        if cached is not None and cached[0] is node:
            return cached[1]
        locks = CLOCK_LOCK_CAPABILITY in node.info.capabilities
        static = tuple(
            _StaticGpu(
                info.index,
                info.model,
                info.power_limit_min_w,
                info.power_limit_max_w,
                info.power_limit_default_w or info.power_limit_max_w,
                info.max_sm_clock_mhz if locks else 0,
                info.idle_power_w,
                POWER_LIMIT_CAPABILITY in node.info.capabilities,
            )
            for info in node.info.gpus
            if info.index >= 0 and info.power_limit_max_w > 0
        )
        self._of[name] = (node, static)
        return static


@dataclass(frozen=True, slots=True)
class _StaticGpu:
    index: int
    model: str
    power_limit_min_w: float
    power_limit_max_w: float
    power_limit_default_w: float
    max_sm_clock_mhz: int  # 0 where the node does not lock clocks
    idle_power_w: float
    settable: bool


def build_runtime_snapshot(
    state: ClusterState,
    pending: Sequence[Unschedulable],
    now: float,
    inventory: GpuInventory | None = None,
) -> RuntimeSnapshot:
    """GPUs of Ready nodes with fresh telemetry, the work on each, and capacity pressure.
    `inventory`: the loop's, kept between passes (None: read every record now)."""
    inventory = inventory or GpuInventory()
    on_gpu: dict[tuple[str, int], list[RuntimeWorkload]] = {}
    for key, placement in state.placements.items():
        workload = state.workloads.get(key)
        if workload is None:
            continue
        status = state.slo.status(key, now)
        p99 = status.p99_latency_ms if status is not None else None
        series = state.telemetry.get(placement.node)
        throttle = series.throttles.get(key) if series is not None else None
        # What the app said it holds, while it still reports (a silent app's word is old).
        factor = status.throttle_factor if status is not None and not status.stale else None
        view = runtime_workload(key, workload, placement.milli_gpu, p99, throttle, factor)
        for index in placement.gpus:
            on_gpu.setdefault((placement.node, index), []).append(view)
    gpus = []
    for name, node in sorted(state.nodes.items()):
        if node.state != types_pb2.NODE_STATE_READY:
            continue  # no telemetry to judge by, and commands would not land
        series = state.telemetry.get(name)
        newest = series.latest_row() if series is not None else None
        if series is None or newest is None:
            continue
        # One read of the node's columns: element-wise numpy reads cost ~1 us each.
        columns = newest[1][:, _RUNTIME_COLUMNS].tolist()
        clock_locks = series.clock_locks
        for gpu in inventory.gpus(name, node):
            if gpu.index >= len(columns):
                continue
            limit_w, utilization_pct, power_w = columns[gpu.index]
            if math.isnan(utilization_pct):
                continue  # no sample for this GPU yet
            gpus.append(
                RuntimeGpu(
                    node=name,
                    index=gpu.index,
                    model=gpu.model,
                    power_limit_min_w=gpu.power_limit_min_w,
                    power_limit_max_w=gpu.power_limit_max_w,
                    power_limit_default_w=gpu.power_limit_default_w,
                    power_cap_w=limit_w,
                    utilization=min(max(utilization_pct / 100.0, 0.0), 1.0),
                    power_w=max(power_w, 0.0),
                    workloads=tuple(on_gpu.get((name, gpu.index), ())),
                    max_sm_clock_mhz=gpu.max_sm_clock_mhz,
                    clock_lock_mhz=clock_locks.get(gpu.index),
                    idle_power_w=gpu.idle_power_w,
                    settable=gpu.settable,
                )
            )
    pressure = []
    for item in pending:
        workload = state.workloads.get(item.workload)
        if workload is None or item.never:
            continue
        res = workload.spec.resources
        pressure.append(
            PendingWork(
                workload=item.workload,
                priority=workload.priority,
                gpus=res.gpus,
                milli_gpu=res.milli_gpu or 1000,
                reason=item.reason,
            )
        )
    return RuntimeSnapshot(gpus=tuple(gpus), pending=tuple(pressure))


# The most of one core the runtime pass may take: on a large fleet a pass over every GPU takes
# longer (it is Python over every GPU), and at the configured period it would crowd out
# telemetry ingestion, which shares the event loop. Its period stretches instead.
RUNTIME_MAX_DUTY = 0.1


def pause_s(interval_s: float, last_step_s: float) -> float:
    """The wait before the next pass: the period, or longer when the last pass took more than
    RUNTIME_MAX_DUTY of it (energy is attributed over the real time between passes)."""
    return max(interval_s, last_step_s * (1 - RUNTIME_MAX_DUTY) / RUNTIME_MAX_DUTY)


def slo_status_text(verdict: SloVerdict) -> str:
    if verdict.state is SloState.UNKNOWN:
        return f"unknown ({verdict.reason.message})"
    return verdict.state.value


class RuntimeLoop:
    def __init__(
        self,
        state: ClusterState,
        decisions: Decisions,
        config: RuntimeConfig,
        interval_s: float,
        pending: Callable[[], Sequence[Unschedulable]],
        migrate: Callable[[str, str], Awaitable[object]] | None = None,
    ) -> None:
        self.state = state
        self.decisions = decisions
        self.config = config
        self.interval_s = interval_s
        self.pending = pending
        # Checkpointed migration (controlplane/leader/migration.py); without it, a Migrate action
        # releases the placement and the placement core puts the workload elsewhere.
        self.migrate = migrate
        self.memory = RuntimeMemory()
        self.inventory = GpuInventory(state)
        self.energy_j: dict[str, float] = {}
        self.slo_status: dict[str, str] = {}
        self._last_step: float | None = None

    async def run(self) -> None:
        """Runs while this controller leads (a new leader starts from empty memory)."""
        took_s = 0.0
        while self.decisions.store.epoch > 0:
            await asyncio.sleep(pause_s(self.interval_s, took_s))
            started = time.perf_counter()
            try:
                await self.step(time.time())
            except FencingError:
                return
            except Conflict:
                pass  # decided on a state that changed meanwhile: the next period decides again
            except Exception as exc:  # the next period tries again
                log.exception("runtime_step_failed", error=str(exc))
            took_s = time.perf_counter() - started

    async def step(self, now: float) -> tuple[RuntimeAction, ...]:
        snapshot = build_runtime_snapshot(self.state, self.pending(), now, self.inventory)
        if self._last_step is not None:
            watts = attribute_power_w(snapshot.gpus)
            self.energy_j = add_energy_j(self.energy_j, watts, now - self._last_step)
        self._last_step = now
        plan, memory = plan_runtime(snapshot, self.memory, now, self.config)
        self.slo_status = {v.workload: slo_status_text(v) for v in plan.verdicts}
        self.state.energy_j = self.energy_j
        self.state.slo_status = self.slo_status
        batch = Batch()
        applied: list[RuntimeAction] = []
        migrations = []
        for action in plan.actions:
            if isinstance(action, Migrate) and self.migrate is not None:
                migrations.append(action)
            elif self._stage(batch, action, now):
                applied.append(action)
        await self.decisions.commit(batch)
        for action in migrations:
            assert self.migrate is not None
            try:
                await self.migrate(action.workload, action.reason.message)
                applied.append(action)
            except FencingError:
                raise
            except Exception as exc:  # refused (no target, already moving): say so
                self.decisions.events.emit(
                    "runtime_migration_refused", f"workload/{action.workload}", str(exc), now
                )
        self.memory = memory  # only once the actions are committed
        for action in applied:
            reason = action.reason
            self.decisions.events.emit(
                reason.code,
                _object_of(action),
                reason.message,
                now,
                **{name: value for name, value in reason.fields},
            )
        return tuple(applied)

    def _stage(self, batch: Batch, action: RuntimeAction, now: float) -> bool:
        d = self.decisions
        command = agent_command(action)
        if command is not None:
            node, fields = command
            d.stage_command(batch, node, now, command_id="", **fields)
        elif isinstance(action, SwitchVariant):
            return self._stage_variant(batch, action, now)
        elif isinstance(action, Migrate):
            return self._stage_migrate(batch, action, now)
        else:
            self._tell_app(batch, action, now)
        return True

    def _tell_app(self, batch: Batch, action: RuntimeAction, now: float) -> None:
        """Stage the directive with which the workload's app carries out `action`."""
        directive = app_directive(action)
        if directive is not None:
            workload, fields = directive
            self.decisions.stage_directive(batch, workload, now, directive_id="", **fields)

    def _stage_variant(self, batch: Batch, action: SwitchVariant, now: float) -> bool:
        """Record the variant and its share in the placement; the app is told to switch."""
        workload = self.state.workloads.get(action.workload)
        placement = self.state.placements.get(action.workload)
        if workload is None or placement is None:
            return False
        chosen = next((v for v in workload.spec.variants if v.name == action.variant), None)
        if chosen is None:
            return False
        milli = chosen.resources.milli_gpu or 1000
        if milli > placement.milli_gpu and not self._room(placement, milli - placement.milli_gpu):
            return False  # switching back needs the share it gave up; not there yet
        updated = types_pb2.Workload()
        updated.CopyFrom(workload)
        updated.variant = action.variant
        record = types_pb2.PlacementRecord()
        record.CopyFrom(placement)
        record.variant = action.variant
        record.milli_gpu = milli
        self.decisions.stage_workload(batch, action.workload, updated)
        self.decisions.stage_placement(batch, action.workload, record)
        self._tell_app(batch, action, now)
        return True

    def _room(self, placement: types_pb2.PlacementRecord, extra_milli: int) -> bool:
        for index in placement.gpus:
            used = sum(
                p.milli_gpu for p in self.state.node_workloads(placement.node) if index in p.gpus
            )
            if used + extra_milli > 1000:
                return False
        return True

    def _stage_migrate(self, batch: Batch, action: Migrate, now: float) -> bool:
        """Tell the app, then release the placement: the placement core puts it elsewhere."""
        placement = self.state.placements.get(action.workload)
        if placement is None:
            return False
        self._tell_app(batch, action, now)
        self.decisions.unplace(
            batch, action.workload, placement, f"migrating: {action.reason.message}", now
        )
        return True


def _object_of(action: RuntimeAction) -> str:
    if isinstance(action, (SetPowerCap, ResetPowerCap, LockClocks, ResetClocks)):
        return f"node/{action.node}"
    return f"workload/{action.workload}"


def app_directive(action: RuntimeAction) -> tuple[str, dict[str, object]] | None:
    """The workload and the directive fields with which its app carries out a workload-level
    action (None for actions the agent carries out)."""
    if isinstance(action, DirectiveThrottle):
        fields: dict[str, object] = {
            "kind": types_pb2.DIRECTIVE_KIND_THROTTLE,
            "factor": action.factor,
        }
    elif isinstance(action, DirectiveUnthrottle):
        fields = {"kind": types_pb2.DIRECTIVE_KIND_UNTHROTTLE}
    elif isinstance(action, SwitchVariant):
        fields = {"kind": types_pb2.DIRECTIVE_KIND_SWITCH_VARIANT, "variant": action.variant}
    elif isinstance(action, Migrate):
        node, gpus = ("", []) if action.target is None else (action.target[0], [action.target[1]])
        fields = {"kind": types_pb2.DIRECTIVE_KIND_MIGRATE, "node": node, "gpus": gpus}
    else:
        return None
    return action.workload, {**fields, "reason": action.reason.message}


def agent_command(action: RuntimeAction) -> tuple[str, dict[str, object]] | None:
    """The node and the agent command field that carry out a node-level action (None for
    actions the workload or the placement carries out)."""
    if isinstance(action, SetPowerCap):
        limit = types_pb2.SetPowerLimit(gpu_index=action.gpu, watts=action.watts)
        return action.node, {"set_power_limit": limit}
    if isinstance(action, ResetPowerCap):
        return action.node, {"reset_power_limit": types_pb2.ResetPowerLimit(gpu_index=action.gpu)}
    if isinstance(action, LockClocks):
        lock = types_pb2.LockClocks(
            gpu_index=action.gpu, min_mhz=action.min_mhz, max_mhz=action.max_mhz
        )
        return action.node, {"lock_clocks": lock}
    if isinstance(action, ResetClocks):
        return action.node, {"reset_clocks": types_pb2.ResetClocks(gpu_index=action.gpu)}
    if isinstance(action, ThrottleProcess):
        throttle = types_pb2.ThrottleWorkload(
            workload=action.workload,
            cpu_fraction=action.cpu_fraction,
            freeze=action.cpu_fraction == 0,
        )
        return action.node, {"throttle_workload": throttle}
    if isinstance(action, UnthrottleProcess):
        unthrottle = types_pb2.ThrottleWorkload(workload=action.workload, cpu_fraction=1.0)
        return action.node, {"throttle_workload": unthrottle}
    return None
