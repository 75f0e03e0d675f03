"""Model variants: under capacity pressure, switch services to cheaper declared variants
instead of rejecting or preempting; switch them back when capacity returns.

Pressure is the placement core's Unschedulable list. A pending workload that has waited
`variant_pressure_s` (a transient pending that the next placement pass resolves is not
pressure) gets room made on one node: placed workloads of no higher priority, with a declared
variant that needs a smaller share, are switched, cheapest accuracy cost first, until its share
fits on enough GPUs. Only when nothing has been pending for `variant_restore_s`, a switched
workload is given its original variant back, if its GPUs have the room, at most once per
`variant_min_dwell_s`: the two waits are the hysteresis that keeps a service from bouncing.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.optimizer.runtime.actions import Reason, SwitchVariant
from controlplane.optimizer.runtime.config import RuntimeConfig
from controlplane.optimizer.runtime.guard import Placed, placed_workloads
from controlplane.optimizer.runtime.memory import MemoryBuilder, VariantSwitch
from controlplane.optimizer.runtime.proposal import Proposal, Urgency
from controlplane.optimizer.runtime.types import (
    GpuKey,
    PendingWork,
    RuntimeGpu,
    RuntimeSnapshot,
    RuntimeWorkload,
    VariantView,
)


@dataclass(frozen=True, slots=True)
class _Option:
    workload: RuntimeWorkload
    gpu: GpuKey
    variant: VariantView
    saves_milli: int


def active_variant(w: RuntimeWorkload) -> str:
    return w.variant or (w.variants[0].name if w.variants else "")


def track_pressure(snapshot: RuntimeSnapshot, b: MemoryBuilder, now: float) -> None:
    pending = {p.workload for p in snapshot.pending}
    for key in [k for k in b.pressure_since if k not in pending]:
        del b.pressure_since[key]
    for key in sorted(pending):
        b.pressure_since.setdefault(key, now)
    if pending:
        b.no_pressure_since = None
    elif b.no_pressure_since is None:
        b.no_pressure_since = now


def variant_pass(
    snapshot: RuntimeSnapshot, b: MemoryBuilder, now: float, config: RuntimeConfig
) -> tuple[list[Proposal], list[str]]:
    placed = placed_workloads(snapshot)
    for key in [
        k
        for k in b.variants
        if k not in placed
        or active_variant(placed[k].workload) not in (b.variants[k].current, b.variants[k].original)
    ]:
        # Gone, or switched by someone else: not ours to give back. Still on the original
        # means the switch is in flight (the application acts on the directive in its time).
        del b.variants[key]
    if not config.variants:
        return [], []
    proposals: list[Proposal] = []
    notes: list[str] = []
    used: set[str] = set()  # a workload switches at most once per pass
    extra: dict[GpuKey, int] = {}  # milli freed by this pass's switches, already promised
    waiting = sorted(
        snapshot.pending, key=lambda p: (-p.priority, b.pressure_since[p.workload], p.workload)
    )
    for p in waiting:
        if now - b.pressure_since[p.workload] < config.variant_pressure_s:
            continue
        chosen = _make_room(snapshot, p, b, now, config, used, extra)
        if chosen is None:
            notes.append(f"{p.workload}: pending; no cheaper variant makes room for it")
            continue
        proposals.extend(_switch(o, p, b.variants.get(o.workload.key), now) for o in chosen)
    proposals.extend(_restore(snapshot, placed, b, now, config))
    return proposals, notes


def _make_room(
    snapshot: RuntimeSnapshot,
    p: PendingWork,
    b: MemoryBuilder,
    now: float,
    config: RuntimeConfig,
    used: set[str],
    extra: dict[GpuKey, int],
) -> list[_Option] | None:
    """The cheapest set of switches (total accuracy cost) giving p its share on one node."""
    by_node: dict[str, list[RuntimeGpu]] = {}
    for gpu in snapshot.gpus:
        by_node.setdefault(gpu.node, []).append(gpu)
    best: tuple[float, list[_Option]] | None = None
    for node in sorted(by_node):
        per_gpu = []
        for gpu in by_node[node]:
            found = _room_on(gpu, p, b, now, config, used, extra)
            if found is not None:
                per_gpu.append(found)
        if len(per_gpu) < max(1, p.gpus):
            continue
        per_gpu.sort(key=lambda c: c[0])
        cost = sum(c for c, _ in per_gpu[: max(1, p.gpus)])
        options = [o for _, opts in per_gpu[: max(1, p.gpus)] for o in opts]
        if best is None or cost < best[0]:
            best = (cost, options)
    if best is None or not best[1]:
        return None  # no room, or room without switching (the placement core will use it)
    for o in best[1]:
        used.add(o.workload.key)
        extra[o.gpu] = extra.get(o.gpu, 0) + o.saves_milli
    return best[1]


def _room_on(
    gpu: RuntimeGpu,
    p: PendingWork,
    b: MemoryBuilder,
    now: float,
    config: RuntimeConfig,
    used: set[str],
    extra: dict[GpuKey, int],
) -> tuple[float, list[_Option]] | None:
    free = gpu.free_milli + extra.get(gpu.key, 0)
    if free >= p.milli_gpu:
        return (0.0, [])
    options = []
    for w in gpu.workloads:
        if w.key in used or w.priority > p.priority or not w.variants:
            continue
        last = b.variants.get(w.key)
        if last is not None and now - last.switched_at < config.variant_min_dwell_s:
            continue
        cheaper = [v for v in w.variants if v.milli_gpu < w.milli_gpu]
        if cheaper:
            v = min(cheaper, key=lambda v: (v.accuracy_cost, v.milli_gpu, v.name))
            options.append(_Option(w, gpu.key, v, w.milli_gpu - v.milli_gpu))
    options.sort(key=lambda o: (o.variant.accuracy_cost / o.saves_milli, o.workload.key))
    chosen, cost = [], 0.0
    for o in options:
        if free >= p.milli_gpu:
            break
        chosen.append(o)
        free += o.saves_milli
        cost += o.variant.accuracy_cost
    return (cost, chosen) if free >= p.milli_gpu else None


def _switch(o: _Option, p: PendingWork, previous: VariantSwitch | None, now: float) -> Proposal:
    w = o.workload
    from_name = active_variant(w)
    reason = Reason(
        "variant_switched",
        f"{p.workload} (priority {p.priority}) pending: {w.key} switches {from_name} -> "
        f"{o.variant.name}, freeing {o.saves_milli} milli on {o.gpu[0]}/{o.gpu[1]} "
        f"(accuracy cost {o.variant.accuracy_cost:g}, latency x{o.variant.latency_factor:g})",
        (
            ("for_workload", p.workload),
            ("from", from_name),
            ("to", o.variant.name),
            ("saves_milli", o.saves_milli),
            ("accuracy_cost", o.variant.accuracy_cost),
            ("latency_factor", o.variant.latency_factor),
        ),
    )
    original = previous.original if previous is not None else from_name
    record = VariantSwitch(original, o.variant.name, now, p.workload)

    def commit(mb: MemoryBuilder) -> None:
        mb.variants[w.key] = record
        mb.pressure_since[p.workload] = now  # give the placement core a pass to use the room

    return Proposal(
        Urgency.CAPACITY,
        (SwitchVariant(w.key, o.variant.name, reason),),
        commit,
        f"workload/{w.key}",
    )


def _restore(
    snapshot: RuntimeSnapshot,
    placed: dict[str, Placed],
    b: MemoryBuilder,
    now: float,
    config: RuntimeConfig,
) -> list[Proposal]:
    if b.no_pressure_since is None or now - b.no_pressure_since < config.variant_restore_s:
        return []
    out = []
    promised: dict[GpuKey, int] = {}
    for key, record in sorted(b.variants.items()):
        if now - record.switched_at < config.variant_min_dwell_s:
            continue
        x = placed[key]
        original = next((v for v in x.workload.variants if v.name == record.original), None)
        if original is None:
            continue
        grow = original.milli_gpu - x.workload.milli_gpu
        if any(g.free_milli - promised.get(g.key, 0) < grow for g in x.gpus):
            continue  # no room to grow back yet
        for g in x.gpus:
            promised[g.key] = promised.get(g.key, 0) + max(0, grow)
        calm = now - b.no_pressure_since
        reason = Reason(
            "variant_restored",
            f"nothing pending for {calm:.0f} s: {key} back to {record.original} "
            f"(+{grow} milli fits)",
            (
                ("from", record.current),
                ("to", record.original),
                ("grow_milli", grow),
                ("calm_s", round(calm, 1)),
            ),
        )

        def commit(mb: MemoryBuilder, key: str = key) -> None:
            mb.variants.pop(key, None)

        out.append(
            Proposal(
                Urgency.UNDO,
                (SwitchVariant(key, record.original, reason),),
                commit,
                f"workload/{key}",
            )
        )
    return out
