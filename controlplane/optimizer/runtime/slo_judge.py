"""Judging each SLO workload's rolling p99 against its target: breach, hold, slack or unknown.

Hysteresis lives here: above target x breach_ratio the guard acts; below target x relax_ratio
relief may be undone; in between nothing changes. A workload with no fresh p99 (stale, never
reported, or a value that is not a latency) is UNKNOWN: it neither meets nor breaks its SLO, so
nothing is done on its behalf and no relief is removed because of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from controlplane.optimizer.runtime.actions import Reason
from controlplane.optimizer.runtime.config import RuntimeConfig
from controlplane.optimizer.runtime.types import RuntimeSnapshot, RuntimeWorkload


class SloState(Enum):
    BREACH = "breach"  # p99 > target x breach_ratio
    HOLD = "hold"  # in the hysteresis band
    SLACK = "slack"  # p99 < target x relax_ratio
    UNKNOWN = "unknown"  # no fresh p99: neither meeting nor breaking


@dataclass(frozen=True, slots=True)
class SloVerdict:
    workload: str
    state: SloState
    p99_ms: float | None
    target_ms: float
    reason: Reason

    @property
    def ratio(self) -> float | None:
        """p99 / target, or None without a fresh p99."""
        return None if self.p99_ms is None else self.p99_ms / self.target_ms

    @property
    def fields(self) -> tuple[tuple[str, float], ...]:
        """The verdict's numbers as a Reason's fields: p99, target and their ratio."""
        return (
            ("p99_ms", round(self.p99_ms or 0.0, 3)),
            ("target_ms", self.target_ms),
            ("ratio", round(self.ratio or 0.0, 4)),
        )


def judge(w: RuntimeWorkload, config: RuntimeConfig) -> SloVerdict:
    target = w.p99_target_ms
    p99 = w.p99_ms
    if p99 is None or not math.isfinite(p99) or p99 < 0.0:
        what = "no fresh p99 (stale or never reported)" if p99 is None else f"p99 {p99!r} invalid"
        return SloVerdict(
            w.key,
            SloState.UNKNOWN,
            None,
            target,
            Reason(
                "slo_unknown",
                f"{w.key}: {what}: neither meeting nor breaking its {target:g} ms target; "
                "no action on its behalf and no relief removed because of it",
                (("target_ms", target),),
            ),
        )
    ratio = p99 / target
    fields = (("p99_ms", round(p99, 3)), ("target_ms", target), ("ratio", round(ratio, 4)))
    if ratio > config.breach_ratio:
        state, text = SloState.BREACH, f"above {config.breach_ratio:g} x target"
    elif ratio < config.relax_ratio:
        state, text = SloState.SLACK, f"below {config.relax_ratio:g} x target"
    else:
        state, text = (
            SloState.HOLD,
            (f"between {config.relax_ratio:g} and {config.breach_ratio:g} x target"),
        )
    return SloVerdict(
        w.key,
        state,
        p99,
        target,
        Reason(
            f"slo_{state.value}",
            f"{w.key}: p99 {p99:.1f} ms vs target {target:g} ms ({text})",
            fields,
        ),
    )


def judge_all(snapshot: RuntimeSnapshot, config: RuntimeConfig) -> dict[str, SloVerdict]:
    """A verdict per SLO workload key (a multi-GPU workload is judged once)."""
    out: dict[str, SloVerdict] = {}
    for gpu in snapshot.gpus:
        for w in gpu.workloads:
            if w.has_slo and w.key not in out:
                out[w.key] = judge(w, config)
    return out
