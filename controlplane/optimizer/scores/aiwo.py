"""aiwo's placement score: FGD's fragmentation measure, learned online, with packing ties.

Experimental; see docs/placement.md for what was tried and measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controlplane.optimizer.scores.base import ScoreInput, Scores
from controlplane.optimizer.scores.bestfit import MAX_SPEC_CPU_MILLI, MAX_SPEC_GPU_MILLI
from controlplane.optimizer.scores.fgd import (
    FgdArgs,
    FragmentationMixin,
    best_per_node,
    sigmoid_score,
)
from controlplane.optimizer.typical import TypicalPods


@dataclass(frozen=True, slots=True)
class AiwoArgs:
    coverage: float = 0.95
    refresh: int = 32
    resolution: float = 1.0  # score steps per point: 1 keeps FGD's integer buckets
    secondary: str = "align"  # tie-break inside a bucket: none | bestfit | packing | gpu | align
    scale: float = 2000.0  # milli of fragmentation per sigmoid unit
    tie_levels: int = 10  # quantise the tie-break into this many levels (0: continuous)
    tie_weight: float = 1.0  # the tie-break's weight in score buckets (<= 1: only breaks ties)

    def check(self) -> list[tuple[str, str]]:
        problems = FgdArgs(self.coverage, self.refresh).check()
        if self.resolution <= 0:
            problems.append(("resolution", f"expected > 0, got {self.resolution}"))
        if self.secondary not in ("none", "bestfit", "packing", "gpu", "align", "align_node"):
            problems.append(("secondary", f"expected none|bestfit|packing|gpu, got "
                                          f"{self.secondary!r}"))
        if self.scale <= 0:
            problems.append(("scale", f"expected > 0, got {self.scale}"))
        return problems


class AiwoScore(FragmentationMixin):
    name = "aiwo"

    def __init__(self, args: AiwoArgs, typical: TypicalPods | None = None) -> None:
        self._setup(FgdArgs(args.coverage, args.refresh), typical)
        self.aargs = args

    def score(self, inp: ScoreInput) -> Scores:
        m = self.model(inp.state)
        s, d, k = inp.state, inp.demand, inp.nodes
        tie = self._secondary(inp)  # in [0, 1)
        if m is None:
            return Scores(tie * 100.0)
        dl = self.delta(m, inp)
        res = self.aargs.resolution
        primary = np.floor(res * sigmoid_score(dl.before * 1000 / self.aargs.scale,
                                               dl.after * 1000 / self.aargs.scale)) / res
        a = self.aargs
        if a.tie_levels > 0:
            tie = np.floor(tie * a.tie_levels) / a.tie_levels
        values = primary + a.tie_weight * tie[dl.pair_node] / res
        if not d.shared:
            return Scores(values)
        best, gpu = best_per_node(dl.pair_node, dl.pair_gpu, values, len(k))
        del s
        return Scores(best, gpu)

    def _secondary(self, inp: ScoreInput) -> np.ndarray:
        s, d, k = inp.state, inp.demand, inp.nodes
        mode = self.aargs.secondary
        if mode == "none":
            return np.zeros(len(k))
        gpu_left = (s.gpu_free_total[k] - d.gpu_milli_total) / MAX_SPEC_GPU_MILLI
        if mode == "align":
            cpu_free = s.cpu_free[k] / MAX_SPEC_CPU_MILLI
            gpu_free = s.gpu_free_total[k] / MAX_SPEC_GPU_MILLI
            u = np.array([d.cpu_milli / MAX_SPEC_CPU_MILLI, d.gpu_milli_total / MAX_SPEC_GPU_MILLI])
            norm = np.hypot(cpu_free, gpu_free) * max(float(np.hypot(*u)), 1e-9)
            cos = (cpu_free * u[0] + gpu_free * u[1]) / np.maximum(norm, 1e-9)
            return np.clip(cos, 0.0, 0.999)
        if mode == "align_node":
            cpu_cap = np.maximum(s.cpu_total[k], 1).astype(np.float64)
            gpu_cap = np.maximum(s.gpu_count[k], 1) * 1000.0
            fc, fg = s.cpu_free[k] / cpu_cap, s.gpu_free_total[k] / gpu_cap
            uc, ug = d.cpu_milli / cpu_cap, d.gpu_milli_total / gpu_cap
            cos = (fc * uc + fg * ug) / np.maximum(np.hypot(fc, fg) * np.hypot(uc, ug), 1e-9)
            return np.clip(cos, 0.0, 0.999)
        if mode == "gpu":
            return np.clip(1.0 - gpu_left, 0.0, 0.999)
        if mode == "packing":
            cap = np.maximum(s.gpu_count[k], 1) * 1000.0
            return np.clip(1.0 - (s.gpu_free_total[k] - d.gpu_milli_total) / cap, 0.0, 0.999)
        cpu_left = (s.cpu_free[k] - d.cpu_milli) / MAX_SPEC_CPU_MILLI
        return np.clip(1.0 - (0.5 * cpu_left + 0.5 * gpu_left), 0.0, 0.999)
