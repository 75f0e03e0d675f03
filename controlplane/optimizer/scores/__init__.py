"""Score plugins by name: each a factory and the dataclass of its parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controlplane.optimizer.plugin_config import NoArgs
from controlplane.optimizer.scores.aiwo import AiwoArgs, AiwoScore
from controlplane.optimizer.scores.base import ArrivalObserver, ScoreInput, ScorePlugin, Scores
from controlplane.optimizer.scores.bestfit import BestFit
from controlplane.optimizer.scores.clustering import GpuClustering
from controlplane.optimizer.scores.dotprod import DotProd
from controlplane.optimizer.scores.fgd import Fgd, FgdArgs
from controlplane.optimizer.scores.packing import GpuPacking
from controlplane.optimizer.scores.random import RandomScore
from controlplane.optimizer.scores.spread import ServiceSpread
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
    "dotprod": ScoreSpec(lambda _c, _x: DotProd()),
    "packing": ScoreSpec(lambda _c, _x: GpuPacking()),
    "clustering": ScoreSpec(lambda _c, _x: GpuClustering()),
    "fgd": ScoreSpec(lambda c, x: Fgd(c, x.typical), FgdArgs),
    "aiwo": ScoreSpec(lambda c, x: AiwoScore(c, x.typical), AiwoArgs),
    "spread": ScoreSpec(lambda _c, _x: ServiceSpread()),
}

__all__ = [
    "SCORES",
    "ArrivalObserver",
    "PluginContext",
    "ScoreInput",
    "ScorePlugin",
    "ScoreSpec",
    "Scores",
]
