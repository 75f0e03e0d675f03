"""explain(snapshot, workload_key, config): why a workload is pending, or where it went and why."""

from __future__ import annotations

import numpy as np

from controlplane.optimizer.config import OptimizerConfig
from controlplane.optimizer.demand import Demand
from controlplane.optimizer.filters import build_filters
from controlplane.optimizer.fit import never_fits
from controlplane.optimizer.optimize import prepare
from controlplane.optimizer.place import decide, summarize
from controlplane.optimizer.types import Explanation, Snapshot


def explain(snapshot: Snapshot, workload_key: str, config: OptimizerConfig) -> Explanation:
    """Counts per filter over all nodes, and the top candidates with their scores.

    For placed work, its own capacity is given back first, so the candidates are what it could
    have had, next to where it is. Raises KeyError for an unknown workload.
    """
    w = next((w for w in snapshot.workloads if w.key == workload_key), None)
    if w is None:
        raise KeyError(workload_key)
    state, policy, _ = prepare(snapshot, config, exclude=workload_key)
    demand = Demand.of(w.request, w.service)
    rng = np.random.default_rng(config.seed)
    fr, choice = decide(state, demand, policy, build_filters(), rng, top=max(config.candidates, 1))
    never = fr.count == 0 and never_fits(state, demand, w.key) is not None
    summary = summarize(state.size, fr)
    if never:
        summary += "; no node could host it even empty"
    candidates = choice.candidates if choice else ()
    if candidates:
        best = candidates[0]
        summary += f"; best {best.node} (score {best.score:.0f})"
    if w.assignment is not None:
        gpus = ",".join(str(g) for g in w.assignment.gpus) or "none"
        summary = f"placed on {w.assignment.node} (GPUs {gpus}); now {summary}"
    return Explanation(
        workload=w.key,
        nodes_total=state.size,
        nodes_feasible=fr.count,
        rejections=fr.rejections,
        candidates=candidates,
        summary=summary,
        assignment=w.assignment,
        never=never,
    )
