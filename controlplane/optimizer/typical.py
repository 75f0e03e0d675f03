"""The typical workload mix: the shapes that arrive, most frequent first, with their weights.

FGD (Weng et al., ATC'23) measures fragmentation against "typical pods": the shapes (CPU,
per-GPU milli, GPU count, accepted models; not memory) of the trace's pods, most frequent first,
keeping those that cover 95 % of pods, weights renormalised. The paper takes them from the whole
trace up front; a controller cannot, so `TypicalPods` can also learn them from what arrives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from controlplane.optimizer.demand import Demand

Shape = tuple[int, int, int, frozenset[str]]  # cpu_milli, milli per GPU, gpus, models


def shape_of(d: Demand) -> Shape:
    return (d.cpu_milli, d.milli, d.gpus, d.models)


@dataclass
class TypicalPods:
    coverage: float = 0.95
    counts: Counter[Shape] = field(default_factory=Counter)
    generation: int = 0  # bumped whenever the kept shapes or weights change

    @classmethod
    def of(cls, demands: Iterable[Demand], coverage: float = 0.95) -> TypicalPods:
        t = cls(coverage=coverage)
        t.counts.update(shape_of(d) for d in demands)
        t.generation = 1
        return t

    def observe(self, d: Demand) -> None:
        self.counts[shape_of(d)] += 1
        self.generation += 1

    def observe_many(self, demands: Iterable[Demand]) -> None:
        before = self.total
        self.counts.update(shape_of(d) for d in demands)
        self.generation += self.total - before

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def shapes(self) -> tuple[list[Shape], np.ndarray]:
        """The kept shapes, most frequent first, and their weights (summing to 1)."""
        total = self.total
        if total == 0:
            return [], np.zeros(0)
        kept: list[Shape] = []
        weights: list[int] = []
        covered = 0
        # Ties in frequency are broken by the shape itself, so the result is deterministic.
        for shape, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], _key(kv[0]))):
            kept.append(shape)
            weights.append(n)
            covered += n
            if covered >= self.coverage * total:
                break
        w = np.asarray(weights, dtype=np.float64)
        return kept, w / w.sum()


def _key(shape: Shape) -> tuple[int, int, int, tuple[str, ...]]:
    return (shape[0], shape[1], shape[2], tuple(sorted(shape[3])))
