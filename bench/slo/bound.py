"""The most energy any policy could save in a scenario, from the GPU model: a generous bound.

From the `none` run of a seed (same arrivals, same batch jobs):

    idle      = GPUs x idle power x duration      every GPU draws its idle power under any cap:
                                                  the model has no P-states, and the A100's
                                                  lowest limit (100 W) is above its idle (63 W)
    services  = (E_none - idle - W_none x e) x d  what the services added in `none` (e = uncapped
                                                  power per unit of batch work above idle; exact,
                                                  since `none` caps nothing), times d, the least
                                                  share of decode's power above idle any clock
                                                  lock leaves (perf.decode_power_w at the lowest
                                                  clock: 1 - s = 0.43; docs/gpu-model.md §5)
    batch     = k x W_alone x (cap(k) - idle) / k the least energy for k of the batch work: every
                                                  unit on a GPU busy with batch work only, capped
                                                  to keep exactly k (perf.cap_for_throughput_w)
    E_min     = idle + services + batch           at k = the goal's 80 %

Generous four times over: services are charged what they drew in `none`, where they share SM
time with training and break their SLO (meeting it gives them more SM time, and a decode
server busy with fewer requests per step draws decode power for longer); at the power of the
lowest clock, which no lock within an SLO reaches (the runtime's lock is at r ~ 0.84: 0.77 of
decode's power above idle, at a x1.02 slower step); every unit of batch
work gets the curve's best efficiency at k (full duty amortises P0 - idle, and the curve is
convex, so even caps beat mixed ones); and the loss allowed by the goal is all taken. Same work
adds the batch work not done, (W_none - k W_alone) x e, as report.py does for every run.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.slo.run import RunResult
from gpumodel import perf
from gpumodel.models import get_model

BATCH_GOAL = 0.8  # the goal: at least 80 % of batch throughput kept
# The least share of decode's power above idle a clock lock can leave (the lowest clock).
DECODE_POWER_FLOOR = perf.decode_power_w(perf.MIN_CLOCK_RATIO, 1.0, 0.0)


@dataclass(frozen=True, slots=True)
class EnergyBound:
    min_kwh: float  # the least energy over the same duration
    saved_same_time_pct: float  # the most `energy_saved_same_time_pct` could be
    saved_pct: float  # the most `energy_saved_pct` (same work) could be


def energy_bound(none: RunResult, keep: float = BATCH_GOAL) -> EnergyBound:
    model = get_model(none.gpu_model)
    idle_j = none.gpus * model.idle_power_w * none.duration_s
    services_j = max(0.0, none.energy_j - idle_j - none.batch_work * none.batch_marginal_w)
    services_j *= DECODE_POWER_FLOOR
    demand_w = model.idle_power_w + none.batch_marginal_w
    cap_w = perf.cap_for_throughput_w(keep, demand_w, model.curve_p0_w, model.curve_alpha)
    cap_w = max(cap_w, model.power_limit_min_w)
    batch_j = none.batch_alone_work * (cap_w - model.idle_power_w)
    min_j = idle_j + services_j + batch_j
    same_work_j = min_j + (none.batch_work - keep * none.batch_alone_work) * none.batch_marginal_w
    return EnergyBound(
        min_kwh=perf.joules_to_kwh(min_j),
        saved_same_time_pct=100.0 * (1.0 - min_j / none.energy_j),
        saved_pct=100.0 * (1.0 - same_work_j / none.energy_j),
    )
