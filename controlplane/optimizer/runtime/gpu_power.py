"""Per GPU, one owner for its power limit and clocks: the guard's rung, else the energy pass.

Turns the desired state into commands only where it differs from what the runtime last set
(memory), so a steady state sends nothing. Rates: an energy change waits
`min_change_interval_s` after the last change of that GPU; protecting an SLO (the guard's cap,
lifting an energy cap) does not wait. A cap the GPU still does not report `reissue_after_s`
after it was sent is sent again (a lost command).
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.optimizer.runtime.actions import (
    LockClocks,
    Reason,
    ResetClocks,
    ResetPowerCap,
    RuntimeAction,
    SetPowerCap,
)
from controlplane.optimizer.runtime.budget import batch_keep
from controlplane.optimizer.runtime.config import RuntimeConfig
from controlplane.optimizer.runtime.energy import decide_energy
from controlplane.optimizer.runtime.memory import GpuControl, MemoryBuilder
from controlplane.optimizer.runtime.proposal import Proposal, Urgency
from controlplane.optimizer.runtime.slo_judge import SloVerdict
from controlplane.optimizer.runtime.types import RuntimeGpu, RuntimeSnapshot

_CAP_TOLERANCE_W = 1.0  # telemetry reports the limit in force; within this it is ours


@dataclass(frozen=True, slots=True)
class Desired:
    owner: str  # "guard", "energy", "idle", "" (nothing)
    cap_w: float | None
    clock_lock_mhz: tuple[int, int] | None
    urgency: Urgency
    reason: Reason
    lift: bool = False  # an SLO forced an energy cap up


def gpu_power(
    gpus: tuple[RuntimeGpu, ...],
    verdicts: dict[str, SloVerdict],
    b: MemoryBuilder,
    now: float,
    config: RuntimeConfig,
) -> list[Proposal]:
    present = {g.key for g in gpus}
    for key in [k for k in b.gpus if k not in present]:
        del b.gpus[key]  # the GPU left the snapshot
    proposals = []
    keep = batch_keep(RuntimeSnapshot(gpus), b.relief, config)
    for gpu in gpus:
        if not gpu.settable:
            continue  # its node would refuse; nothing is planned, nothing is remembered
        control = b.gpus[gpu.key] if gpu.key in b.gpus else adopted(gpu)
        if _settled_idle(gpu, control, config):
            continue  # what the full decision would conclude, without building its reasons
        want = _desired(gpu, verdicts, b, control, now, config, keep)
        p = _diff(gpu, control, want, now, config)
        if p is not None:
            proposals.append(p)
    return proposals


def _settled_idle(gpu: RuntimeGpu, control: GpuControl, config: RuntimeConfig) -> bool:
    """An idle GPU already at the minimum limit this runtime set, and reporting it: the
    decision would be "idle, cap at its minimum", the same as in force, with nothing to
    re-send, so no proposal. Most of a large fleet is this at any time; skipping the
    decision's reasons and diff there took the settled pass from about 22 to 8 us per
    node-second (bench/scale/ingest.py, 1,000 idle 8-GPU nodes)."""
    return (
        not gpu.workloads
        and control.owner == "idle"
        and config.energy
        and config.idle_to_min
        and control.clock_lock_mhz is None
        and gpu.clock_lock_mhz is None
        and control.cap_w == gpu.power_limit_min_w
        and abs(gpu.power_cap_w - control.cap_w) <= _CAP_TOLERANCE_W
    )


def adopted(gpu: RuntimeGpu) -> GpuControl:
    """What this runtime takes as its own last setting of a GPU it has no memory of: the cap
    and clock lock the GPU reports. A new leader starts from empty memory, and a cap or lock
    an old leader set (or anyone else, on a node that lets aiwo control its GPUs) must still
    be undone when nothing wants it, instead of staying forever."""
    capped = (
        gpu.power_limit_min_w - _CAP_TOLERANCE_W
        <= gpu.power_cap_w
        < gpu.power_limit_default_w - _CAP_TOLERANCE_W
    )
    cap = gpu.power_cap_w if capped else None
    if cap is None and gpu.clock_lock_mhz is None:
        return GpuControl()
    return GpuControl(cap_w=cap, clock_lock_mhz=gpu.clock_lock_mhz, owner="adopted")


def _desired(
    gpu: RuntimeGpu,
    verdicts: dict[str, SloVerdict],
    b: MemoryBuilder,
    control: GpuControl,
    now: float,
    config: RuntimeConfig,
    keep: float,
) -> Desired:
    guarded = [
        (key, r)
        for key, r in sorted(b.relief.items())
        if "power_cap" in r.rungs
        and gpu.key in r.gpus
        and any(w.key in r.protects for w in gpu.workloads)
    ]
    if guarded:
        key, relief = guarded[0]
        here = f"{gpu.node}/{gpu.index}"
        if config.prefer_clock_lock and gpu.max_sm_clock_mhz > 0:
            mhz = max(1, round(config.guard_cap_fraction * gpu.max_sm_clock_mhz))
            reason = Reason(
                "slo_guard_clock_lock",
                f"{here}: SM clock locked to {mhz} MHz for {', '.join(relief.protects)}"
                f" (neighbour {key})",
                (("max_mhz", mhz), ("neighbour", key)),
            )
            return Desired("guard", None, (mhz, mhz), Urgency.SLO_RELIEF, reason)
        cap = max(
            gpu.power_limit_min_w,
            min(gpu.power_limit_max_w, round(config.guard_cap_fraction * gpu.power_limit_max_w)),
        )
        reason = Reason(
            "slo_guard_power_cap",
            f"{here}: capped at {cap:g} W for {', '.join(relief.protects)} (neighbour {key})",
            (("cap_w", cap), ("neighbour", key)),
        )
        return Desired("guard", cap, None, Urgency.SLO_RELIEF, reason)
    d = decide_energy(gpu, verdicts, b.slack_since, control, now, config, keep)
    if d.kind == "lift":
        return Desired("", None, None, Urgency.SLO_LIFT, d.reason, lift=True)
    reason, urgency = d.reason, Urgency.ENERGY
    if control.owner == "guard":  # the guard's rung was undone: say so, then what follows
        reason = Reason(
            "slo_guard_cap_released",
            f"{gpu.node}/{gpu.index}: relief undone, the guard's cap is released; "
            f"{d.reason.message}",
            d.reason.fields,
        )
        urgency = Urgency.UNDO
    held_lock = control.clock_lock_mhz if control.owner == "energy" else None
    if d.kind == "hold" and (d.cap_w is not None or held_lock is not None):
        return Desired(control.owner, d.cap_w, held_lock, urgency, reason)
    if d.kind == "clock":
        return Desired("energy", None, d.clock_lock_mhz, urgency, reason)
    if d.kind in ("idle", "knee"):
        return Desired(d.kind if d.kind == "idle" else "energy", d.cap_w, None, urgency, reason)
    return Desired("", None, None, urgency, reason)


def _diff(
    gpu: RuntimeGpu, control: GpuControl, want: Desired, now: float, config: RuntimeConfig
) -> Proposal | None:
    same = want.cap_w == control.cap_w and want.clock_lock_mhz == control.clock_lock_mhz
    if same:
        return _reissue(gpu, control, now, config)
    protective = want.urgency in (Urgency.SLO_RELIEF, Urgency.SLO_LIFT)
    if not protective and now - control.changed_at < config.min_change_interval_s:
        return None  # at most one change a minute unless an SLO needs it
    if (
        not protective
        and want.owner == "energy"
        and control.owner == "energy"
        and want.cap_w is not None
        and control.cap_w is not None
        and abs(want.cap_w - control.cap_w)
        < config.energy_min_step_fraction * gpu.power_limit_max_w
    ):
        return None  # too small a change to be worth a command
    actions: list[RuntimeAction] = []
    if want.cap_w != control.cap_w:
        if want.cap_w is None:
            why = _undoing(gpu, control, f"power cap {control.cap_w:g} W", want.reason)
            actions.append(ResetPowerCap(gpu.node, gpu.index, why))
        else:
            actions.append(SetPowerCap(gpu.node, gpu.index, want.cap_w, want.reason))
    if want.clock_lock_mhz != control.clock_lock_mhz:
        if want.clock_lock_mhz is None:
            assert control.clock_lock_mhz is not None  # they differ
            lo, hi = control.clock_lock_mhz
            why = _undoing(gpu, control, f"SM clock lock {lo}-{hi} MHz", want.reason)
            actions.append(ResetClocks(gpu.node, gpu.index, why))
        else:
            lo, hi = want.clock_lock_mhz
            actions.append(LockClocks(gpu.node, gpu.index, lo, hi, want.reason))
    lifted_at, floor = control.lifted_at, control.floor_w
    if want.lift:
        lifted_at = now
        if control.cap_w is not None:  # the cap in force broke an SLO: stop higher next time
            floor = control.cap_w + config.energy_min_step_fraction * gpu.power_limit_max_w
    new = GpuControl(want.cap_w, want.clock_lock_mhz, want.owner, now, lifted_at, floor)

    def commit(mb: MemoryBuilder) -> None:
        mb.gpus[gpu.key] = new

    return Proposal(want.urgency, tuple(actions), commit, f"gpu/{gpu.node}/{gpu.index}")


def _undoing(gpu: RuntimeGpu, control: GpuControl, setting: str, reason: Reason) -> Reason:
    """The reason to reset a setting: for one this runtime adopted (an earlier leader's, or
    an agent's previous life's), say so first, since no decision of its own explains it."""
    if control.owner != "adopted":
        return reason
    return Reason(
        "adopted_setting_released",
        f"{gpu.node}/{gpu.index}: {setting} set by no decision of this controller is "
        f"released; {reason.message}",
        reason.fields,
    )


def _reissue(
    gpu: RuntimeGpu, control: GpuControl, now: float, config: RuntimeConfig
) -> Proposal | None:
    if control.cap_w is None or now - control.changed_at < config.reissue_after_s:
        return None
    if abs(gpu.power_cap_w - control.cap_w) <= _CAP_TOLERANCE_W:
        return None
    reason = Reason(
        "power_cap_resent",
        f"{gpu.node}/{gpu.index}: reports {gpu.power_cap_w:g} W, "
        f"{now - control.changed_at:.0f} s after {control.cap_w:g} W was set",
        (("cap_w", control.cap_w), ("reported_w", gpu.power_cap_w)),
    )
    new = GpuControl(
        control.cap_w,
        control.clock_lock_mhz,
        control.owner,
        now,
        control.lifted_at,
        control.floor_w,
    )

    def commit(mb: MemoryBuilder) -> None:
        mb.gpus[gpu.key] = new

    return Proposal(
        Urgency.ENERGY,
        (SetPowerCap(gpu.node, gpu.index, control.cap_w, reason),),
        commit,
        f"gpu/{gpu.node}/{gpu.index}",
    )
