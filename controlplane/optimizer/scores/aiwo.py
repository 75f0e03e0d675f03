"""aiwo's placement score: FGD's fragmentation, learned online, with a shape-alignment tie-break.

Three changes to FGD, each measured on the paper's traces (docs/placement.md):
1. The typical workload mix is learned from what has arrived, not read from the trace up front.
2. Wider buckets: the fragmentation change is scaled by 2000 milli instead of 1000 before the
   sigmoid, so more nodes share the top integer score.
3. Within a bucket, nodes are ranked by how well their free (CPU, GPU) vector aligns with the
   request's (cosine, in 10 levels), and only then by the fixed node priority. Alignment sends
   CPU-heavy work to nodes with CPU to spare, so GPUs are not stranded behind exhausted CPUs;
   the coarse levels keep enough ties for the fixed priority to keep packing nodes in order
   (continuous tie-breaks lose that, and with it most of the gain).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controlplane.optimizer.scores.base import ScoreInput, Scores
from controlplane.optimizer.scores.fgd import (
    FgdArgs,
    FragmentationMixin,
    best_per_node,
    sigmoid_score,
)
from controlplane.optimizer.types import MILLI_PER_GPU
from controlplane.optimizer.typical import TypicalPods

TIE_BREAKS = ("align", "bestfit", "packing", "none")


@dataclass(frozen=True, slots=True)
class AiwoArgs:
    coverage: float = 0.95  # share of arrivals the typical shapes must cover (as FGD)
    refresh: int = 32  # re-read the learned mix at most every this many arrivals
    scale: float = 2000.0  # milli of fragmentation change per sigmoid unit (FGD: 1000)
    tie_break: str = "align"  # inside a score bucket: align | bestfit | packing | none
    tie_levels: int = 10  # the tie-break in this many levels (0: continuous)

    def check(self) -> list[tuple[str, str]]:
        problems = FgdArgs(self.coverage, self.refresh).check()
        if self.scale <= 0:
            problems.append(("scale", f"expected > 0, got {self.scale}"))
        if self.tie_break not in TIE_BREAKS:
            problems.append(
                ("tie_break", f"expected one of {', '.join(TIE_BREAKS)}, got {self.tie_break!r}")
            )
        if self.tie_levels < 0:
            problems.append(("tie_levels", f"expected >= 0, got {self.tie_levels}"))
        return problems


class AiwoScore(FragmentationMixin):
    name = "aiwo"

    def __init__(self, args: AiwoArgs, typical: TypicalPods | None = None) -> None:
        self._setup(FgdArgs(args.coverage, args.refresh), typical)
        self.aargs = args

    def score(self, inp: ScoreInput) -> Scores:
        a = self.aargs
        # In [0, 1): never more than one bucket, so it only orders nodes inside a bucket.
        tie = np.clip(tie_break(a.tie_break, inp), 0.0, 0.999)
        if a.tie_levels > 0:
            tie = np.floor(tie * a.tie_levels) / a.tie_levels
        m = self.model(inp.state)
        if m is None:  # nothing seen yet
            return Scores(tie)
        dl = self.delta(m, inp)
        unit = MILLI_PER_GPU / a.scale
        values = np.floor(sigmoid_score(dl.before * unit, dl.after * unit)) + tie[dl.pair_node]
        if not inp.demand.shared:
            return Scores(values)
        best, gpu = best_per_node(dl.pair_node, dl.pair_gpu, values, len(inp.nodes))
        return Scores(best, gpu)


def tie_break(mode: str, inp: ScoreInput) -> np.ndarray:
    """float[K] in [0, 1], higher better. Normalised by the cluster's largest node, as the
    paper's simulator normalises by 128 cores and 8 GPUs (the same numbers on its trace)."""
    s, d, k = inp.state, inp.demand, inp.nodes
    if mode == "none":
        return np.zeros(len(k))
    cpu_max = max(float(s.cpu_total.max()), 1.0)
    gpu_max = max(float(s.gpu_count.max()), 1.0) * MILLI_PER_GPU
    cpu_free = s.cpu_free[k] / cpu_max
    gpu_free = s.gpu_free_total[k] / gpu_max
    want_cpu, want_gpu = d.cpu_milli / cpu_max, d.gpu_milli_total / gpu_max
    if mode == "align":
        norm = np.hypot(cpu_free, gpu_free) * max(float(np.hypot(want_cpu, want_gpu)), 1e-12)
        return (cpu_free * want_cpu + gpu_free * want_gpu) / np.maximum(norm, 1e-12)
    if mode == "packing":
        cap = np.maximum(s.gpu_count[k], 1) * float(MILLI_PER_GPU)
        return 1.0 - (s.gpu_free_total[k] - d.gpu_milli_total) / cap
    # bestfit: the least CPU and GPU left after placing
    return 1.0 - 0.5 * (cpu_free - want_cpu) - 0.5 * (gpu_free - want_gpu)
