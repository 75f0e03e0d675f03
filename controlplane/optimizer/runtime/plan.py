"""plan_runtime(snapshot, memory, now, config) -> (plan, memory): the runtime passes, in order.

1. judge every SLO workload's p99 (slo.py) and track since when each has had slack;
2. the SLO guard (guard.py) escalates or undoes relief on neighbours;
3. per GPU, the guard's power-cap rung or the energy pass (gpu_power.py, energy.py);
4. model variants under capacity pressure (variants.py).

Then the rate bound: at most `max_actions_per_minute` actions over any 60 s, or
`max_actions_per_gpu_minute` per GPU on a fleet where that is more, the most urgent first
(SLO relief, lifting caps an SLO needs, capacity, undoing, energy). A proposal that does not
fit is not taken and its memory update is not made, so the next pass proposes it again.
Pure: no I/O, no clock, no randomness; the same inputs give the same plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from controlplane.optimizer.runtime.actions import RuntimeAction
from controlplane.optimizer.runtime.config import RuntimeConfig
from controlplane.optimizer.runtime.gpu_power import gpu_power
from controlplane.optimizer.runtime.guard import guard
from controlplane.optimizer.runtime.memory import MemoryBuilder, RuntimeMemory
from controlplane.optimizer.runtime.proposal import Proposal
from controlplane.optimizer.runtime.slo_judge import SloState, SloVerdict, judge_all
from controlplane.optimizer.runtime.types import RuntimeSnapshot
from controlplane.optimizer.runtime.variants import track_pressure, variant_pass


@dataclass(frozen=True, slots=True)
class RuntimePlan:
    """actions: in the order to apply them. verdicts: every SLO workload's state (for
    `aiwo describe`: "p99 unknown" shows here). deferred: proposals the rate bound held back.
    notes: why nothing was done where something might be expected."""

    actions: tuple[RuntimeAction, ...] = ()
    verdicts: tuple[SloVerdict, ...] = ()
    deferred: int = 0
    notes: tuple[str, ...] = ()


def plan_runtime(
    snapshot: RuntimeSnapshot, memory: RuntimeMemory, now: float, config: RuntimeConfig
) -> tuple[RuntimePlan, RuntimeMemory]:
    b = MemoryBuilder.of(memory, now)
    verdicts = judge_all(snapshot, config)
    _track_slack(verdicts, b, now)
    track_pressure(snapshot, b, now)
    budget = action_bound(config, len(snapshot.gpus)) - len(b.action_times)
    taken: list[RuntimeAction] = []
    deferred = 0

    def take(proposals: list[Proposal]) -> None:
        nonlocal budget, deferred
        for p in sorted(proposals, key=lambda p: (p.urgency, p.subject)):
            if len(p.actions) > budget:
                deferred += 1
                continue
            p.commit(b)
            taken.extend(p.actions)
            budget -= len(p.actions)
            b.action_times.extend([now] * len(p.actions))

    guard_proposals, notes = guard(snapshot, verdicts, b, now, config)
    take(guard_proposals)  # the GPU pass reads the guard's rungs as taken
    variant_proposals, variant_notes = variant_pass(snapshot, b, now, config)
    take(gpu_power(snapshot.gpus, verdicts, b, now, config) + variant_proposals)
    notes += variant_notes
    if deferred:
        notes.append(
            f"{deferred} proposal(s) deferred: {action_bound(config, len(snapshot.gpus))} "
            "actions per minute reached"
        )
    plan = RuntimePlan(
        tuple(taken), tuple(verdicts[k] for k in sorted(verdicts)), deferred, tuple(notes)
    )
    return plan, b.freeze()


def action_bound(config: RuntimeConfig, gpus: int) -> int:
    """Actions allowed over any 60 s: the fixed bound, or more on a fleet large enough that
    the per-GPU bound says so."""
    return max(config.max_actions_per_minute, math.ceil(config.max_actions_per_gpu_minute * gpus))


def _track_slack(verdicts: dict[str, SloVerdict], b: MemoryBuilder, now: float) -> None:
    """Since when each SLO workload has had slack; an unknown p99 neither starts nor ends it."""
    for key in [k for k in b.slack_since if k not in verdicts]:
        del b.slack_since[key]
    for key, v in verdicts.items():
        if v.state is SloState.SLACK:
            b.slack_since.setdefault(key, now)
        elif v.state is not SloState.UNKNOWN:
            b.slack_since.pop(key, None)
