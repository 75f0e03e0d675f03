"""The cluster's batch budget: how far energy caps may slow batch work, after the SLO guard.

Both passes spend one thing: throughput of work without an SLO. The guard spends it to
protect an SLO (throttles), the energy pass to save energy (caps). The guard comes first;
the energy pass may take only what keeps the cluster's batch throughput at or above
`energy_batch_floor`, counting what the guard's relief takes now:

    relief_w = product of the rungs' factors on batch workload w (throttle_factor,
               process_cpu_fraction; a cooperative directive is assumed obeyed, so this
               errs towards leaving more throughput)
    kept     = sum(milli_w * relief_w * keep) / sum(milli_w)  >=  floor
    =>  keep = floor * sum(milli_w) / sum(milli_w * relief_w)

One `keep` for every GPU with batch work: on the fitted curve the power saved per unit of
throughput given up is nearly the same on every such GPU at the same keep (docs/runtime.md,
"Energy"), so spending the budget evenly is close to the best split. The result is never
below `energy_batch_keep` (the deepest cap for one GPU) and is 1.0 when the guard has
already spent the budget: then no energy cap slows batch work at all.

Pure: a function of the snapshot, the relief in memory and the config.
"""

from __future__ import annotations

from collections.abc import Mapping

from controlplane.optimizer.runtime.config import RuntimeConfig
from controlplane.optimizer.runtime.memory import Relief
from controlplane.optimizer.runtime.types import RuntimeSnapshot


def relief_factor(relief: Relief | None, config: RuntimeConfig) -> float:
    """Share of its throughput a workload keeps under the guard's rungs in force."""
    if relief is None:
        return 1.0
    factor = 1.0
    for rung in relief.rungs:
        if rung == "throttle":
            factor *= config.throttle_factor
        elif rung == "process_throttle":
            factor *= config.process_cpu_fraction
    return factor


def batch_keep(
    snapshot: RuntimeSnapshot, relief: Mapping[str, Relief], config: RuntimeConfig
) -> float:
    """The throughput share energy caps may keep on every GPU with batch work, in
    [energy_batch_keep, 1]."""
    milli: dict[str, int] = {}
    for gpu in snapshot.gpus:
        for w in gpu.workloads:
            if not w.has_slo:
                milli[w.key] = milli.get(w.key, 0) + w.milli_gpu
    total = sum(milli.values())
    if total <= 0:
        return 1.0
    after_relief = sum(m * relief_factor(relief.get(k), config) for k, m in milli.items())
    if after_relief <= 0.0:
        return 1.0
    keep = config.energy_batch_floor * total / after_relief
    return min(1.0, max(config.energy_batch_keep, keep))
