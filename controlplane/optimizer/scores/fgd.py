"""FGD (Weng et al., ATC'23): the placement that increases fragmentation least.

score = 100 × sigmoid((fragmentation before − after) / 1000), truncated to an integer, as the
paper's simulator does; truncation matters: it makes many nodes tie, and ties then go to the
fixed node priority, which packs. A shared request tries each usable GPU and keeps the best
(lowest index among equals). Typical pods: given (the paper takes them from the whole trace) or
learned from arrivals (what a controller can do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controlplane.optimizer.capacity import CapacityArrays
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.frag import FragModel
from controlplane.optimizer.scores.base import ScoreInput, Scores
from controlplane.optimizer.types import MILLI_PER_GPU
from controlplane.optimizer.typical import TypicalPods


@dataclass(frozen=True, slots=True)
class FgdArgs:
    coverage: float = 0.95  # share of arrivals the typical shapes must cover
    refresh: int = 32  # learning online: re-read the mix at most every this many arrivals

    def check(self) -> list[tuple[str, str]]:
        problems = []
        if not 0.0 < self.coverage <= 1.0:
            problems.append(("coverage", f"expected 0 < coverage <= 1, got {self.coverage}"))
        if self.refresh < 1:
            problems.append(("refresh", f"expected >= 1, got {self.refresh}"))
        return problems


@dataclass(frozen=True, slots=True)
class Delta:
    """Fragmentation before and after, per candidate (node, GPU)."""

    pair_node: np.ndarray  # int[P], position in the candidate list
    pair_gpu: np.ndarray  # int[P], GPU index (-1: whole GPUs or CPU-only)
    before: np.ndarray  # float[P]
    after: np.ndarray  # float[P]


class FragmentationMixin:
    """The typical-pod bookkeeping and before/after evaluation shared by FGD and aiwo."""

    def _setup(self, args: FgdArgs, typical: TypicalPods | None) -> None:
        self.args = args
        self.learning = typical is None
        self.typical = typical if typical is not None else TypicalPods(coverage=args.coverage)
        self._seen = -1
        self._model: FragModel | None = None

    def observe(self, demand: Demand) -> None:
        if self.learning:
            self.typical.observe(demand)

    def observe_many(self, demands: Sequence[Demand]) -> None:
        if self.learning:
            self.typical.observe_many(demands)

    def model(self, state: CapacityArrays) -> FragModel | None:
        gen = self.typical.generation
        stale = self._model is None or (
            gen != self._seen
            and (not self.learning or gen - self._seen >= self.args.refresh or self._seen < 0)
        )
        if stale:
            shapes, weights = self.typical.shapes()
            self._seen = gen
            if not shapes:
                self._model = None
            elif self._model is not None and shapes == self._model.shapes:
                self._model.weights = weights  # same shapes, new frequencies: keep the sums
            else:
                self._model = FragModel(shapes, weights)
        if self._model is not None:
            self._model.sync(state)
        return self._model

    def delta(self, m: FragModel, inp: ScoreInput) -> Delta:
        s, d, k = inp.state, inp.demand, inp.nodes
        cnt, small, ok = m.cnt[k], m.small[k], m.node_ok[k]
        total, cpu = s.gpu_free_total[k], s.cpu_free[k]
        before = m.frag(cnt, small, total, cpu, ok)
        if not d.shared:
            # Whole GPUs go from 1000 free to 0: each stops serving every shape; none wasted.
            after = m.frag(
                cnt - d.gpus, small, total - d.gpus * MILLI_PER_GPU, cpu - d.cpu_milli, ok
            )
            pos = np.arange(len(k))
            return Delta(pos, np.full(len(k), -1), before, after)
        pos, gpu, free = unique_gpu_options(s.gpu_free[k], inp.gpu_ok)
        rest = free - d.milli
        after = m.frag(
            cnt[pos] + m.ge[rest] - m.ge[free],
            small[pos] + m.sm[rest] - m.sm[free],
            total[pos] - d.milli,
            cpu[pos] - d.cpu_milli,
            ok[pos],
        )
        return Delta(pos, gpu, before[pos], after)


def unique_gpu_options(free: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per node, one usable GPU per distinct free value (the lowest-indexed one).

    GPUs with equal free share are interchangeable for fragmentation, so trying one of each
    value is enough. Returns (node position, GPU index, free) per option, grouped by node.
    """
    vals = np.where(ok, free, -1)
    order = np.argsort(vals, axis=1, kind="stable")
    sorted_vals = np.take_along_axis(vals, order, axis=1)
    first = np.ones_like(sorted_vals, dtype=bool)
    first[:, 1:] = sorted_vals[:, 1:] != sorted_vals[:, :-1]
    first &= sorted_vals >= 0
    pos, col = np.nonzero(first)
    return pos, order[pos, col], sorted_vals[pos, col]


def best_per_node(
    pos: np.ndarray, gpu: np.ndarray, values: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per node, the highest value among its options and its GPU (lowest index on ties)."""
    order = np.lexsort((gpu, -values, pos))  # by node, then best value, then lowest GPU
    p = pos[order]
    first = np.ones(len(p), dtype=bool)
    first[1:] = p[1:] != p[:-1]
    best = np.full(k, -np.inf)
    chosen = np.full(k, -1)
    best[p[first]] = values[order][first]
    chosen[p[first]] = gpu[order][first]
    return best, chosen


def sigmoid_score(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return 100.0 / (1.0 + np.exp(-(before - after) / MILLI_PER_GPU))


class Fgd(FragmentationMixin):
    name = "fgd"

    def __init__(self, args: FgdArgs, typical: TypicalPods | None = None) -> None:
        self._setup(args, typical)

    def score(self, inp: ScoreInput) -> Scores:
        m = self.model(inp.state)
        if m is None:  # nothing seen yet: no mix to measure against
            return Scores(np.zeros(len(inp.nodes)))
        dl = self.delta(m, inp)
        values = np.trunc(sigmoid_score(dl.before, dl.after))
        if not inp.demand.shared:
            return Scores(values)
        best, gpu = best_per_node(dl.pair_node, dl.pair_gpu, values, len(inp.nodes))
        return Scores(best, gpu)
