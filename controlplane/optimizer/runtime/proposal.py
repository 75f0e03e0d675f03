"""A pass proposes; `plan_runtime` disposes: actions that go together, and the memory update
that holds only if they are taken (the rate bound may defer them to a later pass)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from controlplane.optimizer.runtime.actions import RuntimeAction
from controlplane.optimizer.runtime.memory import MemoryBuilder


class Urgency(IntEnum):
    """Lower goes first when the rate bound cannot take everything."""

    SLO_RELIEF = 0  # escalate relief for a breaking SLO
    SLO_LIFT = 1  # lift an energy cap an SLO needs
    CAPACITY = 2  # a variant switch for pending work
    UNDO = 3  # give relief back, switch a variant back
    ENERGY = 4  # cap for energy, re-send a lost cap


@dataclass(frozen=True)
class Proposal:
    urgency: Urgency
    actions: tuple[RuntimeAction, ...]
    commit: Callable[[MemoryBuilder], None]
    subject: str  # what it is about, for ordering and notes: "workload/ns/a", "gpu/n1/0"
