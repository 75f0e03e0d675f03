"""The SLO guard: relief for a breaking SLO on its lower-priority neighbours, rung by rung.

Per neighbour (a lower-priority workload sharing a GPU with an SLO workload) the memory holds
the rungs applied so far. While a protected workload breaks its target, one more rung is added
every `escalate_after_s`: cooperative throttle directive -> power cap (or clock lock) on the
shared GPU -> process throttle -> migration. Rungs that cannot apply are skipped (no GPU with
room to migrate to, no power-limit range). When every protected workload has had slack for
`relax_after_s`, the last rung is undone, one per `max(relax_after_s, min_change_interval_s)`;
relief needed again soon after it was undone is undone more slowly next time (relax_backoff).
A workload whose p99 is unknown blocks undoing (no relief removed because of it) and starts
nothing. The power-cap rung is a GPU-level state: `gpu_power.py` turns it into a command.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from controlplane.optimizer.runtime.actions import (
    DirectiveThrottle,
    DirectiveUnthrottle,
    Migrate,
    Reason,
    RuntimeAction,
    ThrottleProcess,
    UnthrottleProcess,
)
from controlplane.optimizer.runtime.config import RuntimeConfig
from controlplane.optimizer.runtime.memory import MemoryBuilder, Relief
from controlplane.optimizer.runtime.proposal import Proposal, Urgency
from controlplane.optimizer.runtime.slo_judge import SloState, SloVerdict
from controlplane.optimizer.runtime.types import (
    GpuKey,
    RuntimeGpu,
    RuntimeSnapshot,
    RuntimeWorkload,
)


@dataclass(frozen=True, slots=True)
class Placed:
    """One workload and the GPUs it is on."""

    workload: RuntimeWorkload
    gpus: tuple[RuntimeGpu, ...]

    @property
    def gpu_keys(self) -> tuple[GpuKey, ...]:
        return tuple(g.key for g in self.gpus)

    @property
    def node(self) -> str:
        return self.gpus[0].node


def placed_workloads(snapshot: RuntimeSnapshot) -> dict[str, Placed]:
    by_key: dict[str, tuple[RuntimeWorkload, list[RuntimeGpu]]] = {}
    for gpu in snapshot.gpus:
        for w in gpu.workloads:
            by_key.setdefault(w.key, (w, []))[1].append(gpu)
    return {k: Placed(w, tuple(gs)) for k, (w, gs) in sorted(by_key.items())}


def protectors(x: Placed) -> list[RuntimeWorkload]:
    """SLO workloads of higher priority on any of x's GPUs: the ones x's relief is for."""
    seen: dict[str, RuntimeWorkload] = {}
    for gpu in x.gpus:
        for w in gpu.workloads:
            if w.key != x.workload.key and w.has_slo and w.priority > x.workload.priority:
                seen.setdefault(w.key, w)
    return [seen[k] for k in sorted(seen)]


def guard(
    snapshot: RuntimeSnapshot,
    verdicts: dict[str, SloVerdict],
    b: MemoryBuilder,
    now: float,
    config: RuntimeConfig,
) -> tuple[list[Proposal], list[str]]:
    placed = placed_workloads(snapshot)
    for key in [k for k in b.relief if k not in placed]:
        del b.relief[key]  # gone: nothing left to undo
    for seen in [k for k in b.unowned if k[0] not in placed]:
        del b.unowned[seen]
    quiet = 3 * config.relax_backoff_window_s
    for key in [
        k for k, (_, t) in b.relax_backoff.items() if k not in b.relief and now - t > quiet
    ]:
        del b.relax_backoff[key]  # quiet long enough: relax at the base pace again
    proposals: list[Proposal] = []
    notes: list[str] = []
    reserved: dict[GpuKey, int] = {}  # milli promised to migrations in this pass
    for key, x in placed.items():
        relief = b.relief.get(key)
        if relief is not None and relief.gpus != x.gpu_keys:
            proposals.append(
                _undo_all(
                    x,
                    relief,
                    "slo_relief_reset",
                    f"{key} moved from {_gpus(relief.gpus)} to "
                    f"{_gpus(x.gpu_keys)}: its relief is reset",
                )
            )
            continue
        guarded = protectors(x)
        breaking_now = any(verdicts[p.key].state is SloState.BREACH for p in guarded)
        for kind, held in (
            ("process", x.workload.process_cpu_fraction),
            ("directive", x.workload.directive_factor),
        ):
            if relief is None and held is not None and not breaking_now:
                p = _undo_unowned(x, kind, held, b, now, config)
                if p is not None:
                    proposals.append(p)
            else:
                b.unowned.pop((key, kind), None)
        if not guarded:
            if relief is not None:
                proposals.append(
                    _undo_all(
                        x,
                        relief,
                        "slo_relief_reset",
                        f"no SLO workload of higher priority shares "
                        f"{_gpus(x.gpu_keys)} with {key}: relief undone",
                    )
                )
            continue
        mine = [verdicts[p.key] for p in guarded]
        breaking = [v for v in mine if v.state is SloState.BREACH]
        if breaking:
            worst = max(breaking, key=lambda v: v.ratio or 0.0)
            p = _escalate(snapshot, x, relief, worst, b, now, config, reserved, notes)
            if p is not None:
                proposals.append(p)
        elif relief is not None and all(v.state is SloState.SLACK for v in mine):
            p = _relax(x, relief, mine, b, now, config)
            if p is not None:
                proposals.append(p)
        elif relief is not None:
            unknown = [v.workload for v in mine if v.state is SloState.UNKNOWN]
            if unknown:
                notes.append(
                    f"{key}: relief kept: p99 of {', '.join(unknown)} unknown "
                    "(neither meeting nor breaking)"
                )
    return proposals, notes


def _escalate(
    snapshot: RuntimeSnapshot,
    x: Placed,
    relief: Relief | None,
    worst: SloVerdict,
    b: MemoryBuilder,
    now: float,
    config: RuntimeConfig,
    reserved: dict[GpuKey, int],
    notes: list[str],
) -> Proposal | None:
    key = x.workload.key
    if relief is not None and now - relief.changed_at < config.escalate_after_s:
        return None  # the last rung needs time to show in the p99
    applied = relief.rungs if relief is not None else ()
    shared = _shared_gpu(x, worst.workload)
    for rung in config.ladder:
        if rung in applied:
            continue
        target: GpuKey | None = None
        if rung == "power_cap" and not _can_cap(shared, config):
            continue
        if rung == "migrate":
            target = _migration_target(snapshot, x, b, now, config, reserved)
            if target is None:
                continue
            reserved[target] = reserved.get(target, 0) + x.workload.milli_gpu
        level = len(applied) + 1
        reason = Reason(
            "slo_relief_escalated",
            f"{worst.workload} p99 {worst.p99_ms:.1f} ms > target {worst.target_ms:g} ms: "
            f"{rung} on neighbour {key} (priority {x.workload.priority}) on "
            f"{_gpus((shared.key,))}, rung {level}",
            (
                *worst.fields,
                ("rung", rung),
                ("level", level),
                ("protects", worst.workload),
            ),
        )
        actions = _apply(rung, x, shared.key, target, reason, config)
        new = Relief(
            (*applied, rung),
            x.gpu_keys,
            now,
            tuple(sorted({*(relief.protects if relief else ()), worst.workload})),
        )

        def commit(mb: MemoryBuilder, new: Relief = new, rung: str = rung) -> None:
            mb.relief[key] = new
            if rung == "migrate":
                mb.migrated_at[key] = now
            level, undone_at = mb.relax_backoff.get(key, (0, -math.inf))
            if now - undone_at < config.relax_backoff_window_s:  # needed again soon after
                mb.relax_backoff[key] = (min(level + 1, config.relax_backoff_max), undone_at)

        return Proposal(Urgency.SLO_RELIEF, actions, commit, f"workload/{key}")
    notes.append(
        f"{key}: top of the ladder ({', '.join(applied) or 'no rung applies'}); "
        f"{worst.workload} still above target"
    )
    return None


def _relax(
    x: Placed,
    relief: Relief,
    mine: list[SloVerdict],
    b: MemoryBuilder,
    now: float,
    config: RuntimeConfig,
) -> Proposal | None:
    key = x.workload.key
    level, _ = b.relax_backoff.get(key, (0, -math.inf))
    hold = config.relax_after_s * 2**level
    since = max(b.slack_since.get(v.workload, now) for v in mine)
    wait = max(hold, config.min_change_interval_s)
    if now - since < hold or now - relief.changed_at < wait:
        return None
    rung = relief.rungs[-1]
    best = max(mine, key=lambda v: v.ratio or 0.0)
    reason = Reason(
        "slo_relief_undone",
        f"slack for {now - since:.0f} s ({best.workload} p99 {best.p99_ms:.1f} ms vs target "
        f"{best.target_ms:g} ms): {rung} on {key} undone, rung {len(relief.rungs) - 1} left",
        (
            *best.fields,
            ("rung", rung),
            ("level", len(relief.rungs) - 1),
            ("slack_s", round(now - since, 1)),
        ),
    )
    actions = _undo(rung, x, reason)
    rest = relief.rungs[:-1]

    def commit(mb: MemoryBuilder) -> None:
        mb.relax_backoff[key] = (level, now)
        if rest:
            mb.relief[key] = Relief(rest, relief.gpus, now, relief.protects)
        else:
            mb.relief.pop(key, None)

    return Proposal(Urgency.UNDO, actions, commit, f"workload/{key}")


def _undo_all(x: Placed, relief: Relief, code: str, message: str) -> Proposal:
    key = x.workload.key
    reason = Reason(
        code, message, (("rungs", ",".join(relief.rungs)), ("level", len(relief.rungs)))
    )
    actions: list[RuntimeAction] = []
    for rung in reversed(relief.rungs):
        actions.extend(_undo(rung, x, reason))

    def commit(mb: MemoryBuilder) -> None:
        mb.relief.pop(key, None)

    return Proposal(Urgency.UNDO, tuple(actions), commit, f"workload/{key}")


def _apply(
    rung: str,
    x: Placed,
    shared: GpuKey,
    target: GpuKey | None,
    reason: Reason,
    config: RuntimeConfig,
) -> tuple[RuntimeAction, ...]:
    key = x.workload.key
    if rung == "throttle":
        return (DirectiveThrottle(key, config.throttle_factor, reason),)
    if rung == "process_throttle":
        return (ThrottleProcess(key, x.node, config.process_cpu_fraction, reason),)
    if rung == "migrate":
        return (Migrate(key, shared, reason, target),)
    return ()  # power_cap: a GPU-level state, commanded by gpu_power


def _undo(rung: str, x: Placed, reason: Reason) -> tuple[RuntimeAction, ...]:
    key = x.workload.key
    if rung == "throttle":
        return (DirectiveUnthrottle(key, reason),)
    if rung == "process_throttle":
        return (UnthrottleProcess(key, x.node, reason),)
    return ()  # power_cap: gpu_power resets it; migrate: nothing to give back


def _undo_unowned(
    x: Placed, kind: str, held: float, b: MemoryBuilder, now: float, config: RuntimeConfig
) -> Proposal | None:
    """A throttle in force that no relief of this runtime holds (a leader before a failover
    set it): a process throttle its node reports (`kind` "process", `held` the CPU fraction)
    or a cooperative one its app reports ("directive", the factor). Undone once it has been
    seen so for `unowned_grace_s` (reports lag this runtime's own undo by one or two),
    unless a protected SLO breaks now (then the ladder climbs again and owns it). Sent again
    only after `reissue_after_s`."""
    key = x.workload.key
    since, undone_at = b.unowned.setdefault((key, kind), (now, None))
    if now - since < config.unowned_grace_s:
        return None
    if undone_at is not None and now - undone_at < config.reissue_after_s:
        return None
    action: RuntimeAction
    if kind == "process":
        what = "frozen" if held == 0 else f"held to {held:.0%} of its CPU"
        reason = Reason(
            "throttle_unowned_undone",
            f"{key}: {what} on {x.node}, by no relief of this controller (set before a "
            "leader change?): undone",
            (("cpu_fraction", held),),
        )
        action = UnthrottleProcess(key, x.node, reason)
    else:
        reason = Reason(
            "directive_throttle_unowned_undone",
            f"{key}: its app holds a throttle to {held:.0%} of normal load, by no relief of "
            "this controller (sent before a leader change?): unthrottle sent",
            (("factor", held),),
        )
        action = DirectiveUnthrottle(key, reason)

    def commit(mb: MemoryBuilder) -> None:
        mb.unowned[(key, kind)] = (since, now)

    return Proposal(Urgency.UNDO, (action,), commit, f"workload/{key}")


def _shared_gpu(x: Placed, protected: str) -> RuntimeGpu:
    for gpu in x.gpus:
        if any(w.key == protected for w in gpu.workloads):
            return gpu
    return x.gpus[0]


def _can_cap(gpu: RuntimeGpu, config: RuntimeConfig) -> bool:
    if not gpu.settable:
        return False
    if config.prefer_clock_lock and gpu.max_sm_clock_mhz > 0:
        return True
    return gpu.power_limit_max_w > gpu.power_limit_min_w


def _migration_target(
    snapshot: RuntimeSnapshot,
    x: Placed,
    b: MemoryBuilder,
    now: float,
    config: RuntimeConfig,
    reserved: dict[GpuKey, int],
) -> GpuKey | None:
    """The fullest GPU elsewhere that has room for x and runs no SLO work above x's priority.

    Only single-GPU work migrates; the placement core makes the real choice, this only checks
    that one exists (best fit keeps whole GPUs free for whole-GPU work).
    """
    w = x.workload
    if len(x.gpus) != 1:
        return None
    last = b.migrated_at.get(w.key)
    if last is not None and now - last < config.migrate_min_interval_s:
        return None
    best: tuple[int, GpuKey] | None = None
    for gpu in snapshot.gpus:
        if gpu.key in x.gpu_keys:
            continue
        if any(o.has_slo and o.priority > w.priority for o in gpu.workloads):
            continue
        free = gpu.free_milli - reserved.get(gpu.key, 0)
        if free >= w.milli_gpu and (best is None or free < best[0]):
            best = (free, gpu.key)
    return None if best is None else best[1]


def _gpus(keys: tuple[GpuKey, ...]) -> str:
    return ",".join(f"{n}/{i}" for n, i in keys)
