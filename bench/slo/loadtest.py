"""The operator's load test: what one replica sustains at the SLO, alone on its GPU share.

The autoscaler core starts from a prior per-replica capacity and learns the real one online
(controlplane/optimizer/autoscale/limit.py). As in `aiwo bench autoscale` (bench/autoscale/
cli.py), the prior is 70 % (HPA's target utilization) of what a load test measured: here one
replica of the scenario's service model, on an uncapped GPU with no neighbour, fed the
scenario's own requests (their token counts) as Poisson arrivals at a rising rate. The highest
rate whose p99 TPOT stays within the target, and the mean requests in flight at it, are the
replica's capacity; the core then learns what replicas sustain next to training jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.slo.service import LlmService, ServiceParams
from bench.slo.trace import LlmTrace

PRIOR_UTILIZATION = 0.7  # HPA's target utilization, as bench/autoscale applies it
_TEST_S = 600.0  # each rate is held this long
_TICK_S = 0.1
_STEPS = 8  # bisection steps between _LO_RPS and _HI_RPS
_LO_RPS, _HI_RPS = 0.1, 40.0


@dataclass(frozen=True, slots=True)
class Capacity:
    rate_rps: float  # the highest rate held within the target
    in_flight: float  # mean requests in flight at that rate


def _run(
    trace: LlmTrace, params: ServiceParams, rate_rps: float, target_ms: float
) -> tuple[bool, float]:
    rng = np.random.default_rng(0)
    n = max(1, int(rate_rps * _TEST_S))
    arrivals = np.cumsum(rng.exponential(1.0 / rate_rps, size=n))
    pick = rng.integers(0, len(trace), size=n)
    sim = LlmService(
        "loadtest", arrivals, trace.prompt_tokens[pick], trace.output_tokens[pick], params
    )
    tpots: list[float] = []
    in_flight = 0.0
    ticks = int(_TEST_S / _TICK_S)
    for k in range(ticks):
        _, done = sim.advance(k * _TICK_S, _TICK_S, [], 1.0)
        tpots.extend(t for _, t in done)
        in_flight += sim.outstanding
    ok = bool(tpots) and float(np.percentile(tpots, 99)) <= target_ms
    return ok, in_flight / ticks


def replica_capacity(trace: LlmTrace, params: ServiceParams, target_ms: float) -> Capacity:
    """Bisect the rate (geometric) for the highest one within the target."""
    lo, hi = _LO_RPS, _HI_RPS
    best = Capacity(lo, 1.0)
    for _ in range(_STEPS):
        mid = float(np.sqrt(lo * hi))
        ok, in_flight = _run(trace, params, mid, target_ms)
        if ok:
            lo, best = mid, Capacity(mid, max(1.0, in_flight))
        else:
            hi = mid
    return best


_cache: dict[tuple[int, ServiceParams, float], Capacity] = {}


def cached_capacity(trace: LlmTrace, params: ServiceParams, target_ms: float) -> Capacity:
    """One load test per trace, model and target in a process (every seed uses the same)."""
    key = (id(trace), params, target_ms)
    if key not in _cache:
        _cache[key] = replica_capacity(trace, params, target_ms)
    return _cache[key]
