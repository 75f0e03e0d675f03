"""Score plugins by name: each a factory and the dataclass of its parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controlplane.optimizer.plugin_config import NoArgs
from controlplane.optimizer.scores.base import ScoreInput, ScorePlugin, Scores
from controlplane.optimizer.scores.bestfit import BestFit
from controlplane.optimizer.scores.random import RandomScore
from controlplane.optimizer.typical import TypicalPods


@dataclass(frozen=True, slots=True)
class PluginContext:
    """What a plugin may be handed besides its parameters."""

    typical: TypicalPods | None = None  # a fixed workload mix; None: learn it from arrivals


@dataclass(frozen=True, slots=True)
class ScoreSpec:
    factory: Callable[[Any, PluginContext], ScorePlugin]
    config: type = NoArgs


SCORES: dict[str, ScoreSpec] = {
    "random": ScoreSpec(lambda _c, _x: RandomScore()),
    "bestfit": ScoreSpec(lambda _c, _x: BestFit()),
}

__all__ = ["SCORES", "PluginContext", "ScoreInput", "ScorePlugin", "ScoreSpec", "Scores"]
