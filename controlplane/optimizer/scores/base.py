"""The Score plugin interface: how good is each feasible node, scored for all at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand

MAX_SCORE = 100


@dataclass(frozen=True, slots=True)
class ScoreInput:
    state: CapacityArrays
    demand: Demand
    nodes: np.ndarray  # int[K], indices of the feasible nodes
    gpu_ok: np.ndarray  # bool[K, G], GPUs on those nodes that passed every GPU filter
    rng: np.random.Generator  # the only source of randomness a plugin may use


@dataclass(frozen=True, slots=True)
class Scores:
    values: np.ndarray  # float[K], 0..MAX_SCORE, higher is better
    gpu: np.ndarray | None = None  # int[K]: the GPU a shared demand would take on each node


class ScorePlugin(Protocol):
    name: str

    def score(self, inp: ScoreInput) -> Scores: ...


@runtime_checkable
class ArrivalObserver(Protocol):
    """A second, optional extension point: a plugin that learns the workload mix (FGD's
    typical pods) implements it too and sees every workload that arrives, placed or not.
    The policy asks once, when it is built, which of its plugins observe."""

    def observe(self, demand: Demand) -> None: ...

    def observe_many(self, demands: Sequence[Demand]) -> None: ...


def truncate(values: np.ndarray) -> np.ndarray:
    """Integer scores in 0..100, truncated, as the Kubernetes framework and the paper use."""
    return np.clip(np.trunc(values), 0, MAX_SCORE)


def best_fit_gpu(free: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """int[K]: per node, the usable GPU with the least free share (lowest index on ties)."""
    return np.argmin(np.where(ok, free, np.iinfo(np.int32).max), axis=1)
