"""One policy over one demand: the per-second loop, then energy and the SLO per request.

Energy per second: ready replicas at gpumodel/serving.py's power for their prefill share,
decode share and batch; draining replicas at their decode power; loading replicas at the
held-idle power (a process holds the GPU); GPUs of the pool that hold no replica at the
no-process idle power (counted in pool_energy_kwh only: a freed GPU goes to other work or
idles at minimum power, and is no longer the service's).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.autoscale.demand import F64, PROMPT_GRID, WINDOW_S, Demand
from bench.autoscale.fluid import (
    DEFAULT_TIMEOUT_S,
    FluidService,
    Targets,
    decode_life_s,
    good_requests,
    window_attainment,
)
from bench.autoscale.policies import Context, Observed, Policy, Sizing
from bench.autoscale.pool import Pool
from gpumodel.serving import DEFAULT_SETTING, ReplicaModel, ReplicaSetting

# A draining replica's in-flight requests end within this many mean remaining lives (the 99th
# percentile of a memoryless remainder is ln(100) = 4.6 means).
DRAIN_MEANS = 4.6
PLOT_BIN_S = 60


@dataclass(frozen=True)
class Scenario:
    demand: Demand
    model: ReplicaModel
    targets: Targets
    cold_start_s: float
    max_replicas: int
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def life_s(self) -> int:
        return decode_life_s(self.demand, self.targets)


@dataclass
class RunResult:
    policy: str
    seed: int
    metrics: dict[str, Any]
    # per PLOT_BIN_S: replicas held (mean), attainment %
    replicas_series: F64 = field(default_factory=lambda: np.zeros(0))
    attainment_series: F64 = field(default_factory=lambda: np.zeros(0))
    good_series: F64 = field(default_factory=lambda: np.zeros(0))  # requests within SLO
    arrived_series: F64 = field(default_factory=lambda: np.zeros(0))


def size_static(sc: Scenario, candidates: int = 12) -> Sizing:
    """The fewest replicas meeting the SLO (>= 99.9 %) in the trace's peak minute, after a
    minute of warm-up at the same count; and the per-replica capacity a load test measures.

    Which minute is the peak depends on the replica (prompts and decode cost differently), so
    the busiest minutes by prompt work and by decode work are all tried; the hardest wins.
    """
    d, m = sc.demand, sc.model
    starts = np.arange(0, d.seconds, 60)
    prompt_s = np.add.reduceat(d.prompt_tokens, starts) / m.prefill_tokens_per_s
    decode_s = np.add.reduceat(d.decode_tokens, starts) * m.decode_step_per_seq_ms / 1000.0
    minutes = set(np.argsort(-(prompt_s + decode_s))[:candidates].tolist())
    minutes |= set(np.argsort(-prompt_s)[:candidates].tolist())
    minutes |= set(np.argsort(-decode_s)[:candidates].tolist())
    n = 1
    for minute in sorted(minutes, key=lambda x: -(prompt_s[x] + decode_s[x])):
        peak = int(starts[minute])
        while n < sc.max_replicas and not _meets(sc, n, peak):
            n += 1
    rate, in_flight = load_test(sc)
    return Sizing(n, rate, in_flight)


def _meets(sc: Scenario, n: int, peak: int) -> bool:
    d = sc.demand
    lo, hi = max(0, peak - 60), min(d.seconds, peak + 60)
    warm = FluidService(sc.model, sc.timeout_s)
    if peak > lo:
        _, _, warm = window_attainment(warm, n, d, lo, peak, sc.targets, sc.life_s)
    good, total, _ = window_attainment(warm, n, d, peak, hi, sc.targets, sc.life_s, sc.life_s)
    return total <= 0 or good >= 0.999 * total


def load_test(sc: Scenario, seconds: int = 300) -> tuple[float, float]:
    """What one replica sustains within the TPOT target at a steady rate of the trace's mean
    request (requests/s), and the requests it then has in flight: what an operator measures
    before setting an HPA or KPA target."""
    d, m = sc.demand, sc.model
    rate = m.max_rate_per_s(d.mean_prompt_tokens(), d.mean_decode_tokens(), sc.targets.tpot_ms)
    share_dec = float(d.decode_requests.sum() / max(1.0, d.arrivals.sum()))
    s = FluidService(m, sc.timeout_s)
    total = 0.0
    for _ in range(seconds):
        s.step(1, 0, rate, rate * d.mean_prompt_tokens(), rate * share_dec,
               rate * d.mean_decode_tokens())  # fmt: skip
        total += s.in_flight
    return rate, max(1e-6, total / seconds)


def simulate(sc: Scenario, policy: Policy, seed: int) -> RunResult:
    started = time.perf_counter()
    d, m = sc.demand, sc.model
    n_s = d.seconds
    service = FluidService(m, sc.timeout_s)
    pool = Pool(policy.initial(), sc.cold_start_s)
    obs = Observed.empty(d.arrivals)
    p99_prompt = _p99_prompt(d)
    chunk_ms = 1000.0 * m.prefill_chunk_tokens / m.prefill_tokens_per_s
    ctx = Context(obs, d, service, sc.targets, sc.life_s, sc.max_replicas)
    ready_n, start_n, drain_n = (np.zeros(n_s, np.int32) for _ in range(3))
    wait, step, tpot, frac, dropped, batch = (np.zeros(n_s) for _ in range(6))
    a, p, dr, dt = d.arrivals, d.prompt_tokens, d.decode_requests, d.decode_tokens
    period = policy.period_s
    # The replicas' setting per second, as an index into `settings` (0: the default).
    settings: list[ReplicaSetting] = [DEFAULT_SETTING]
    models = {DEFAULT_SETTING: m}
    setting_i = np.zeros(n_s, np.int16)
    current_i = 0
    for t in range(n_s):
        pool.advance(t)
        if t % period == 0 and t > 0:
            obs.t = t
            decision = policy.decide(t, ctx, pool)
            if decision.desired != pool.current:
                pool.apply(decision, t, _drain_s(service), policy.instant)
            s = decision.setting
            if s is not None and s != settings[current_i]:
                if s not in models:
                    models[s] = m.at(s)
                    settings.append(s)
                current_i = settings.index(s)
                service.model = models[s]
                chunk_ms = 1000.0 * m.prefill_chunk_tokens / service.model.prefill_tokens_per_s
        setting_i[t] = current_i
        r, dn = len(pool.ready), len(pool.draining)
        ready_n[t], start_n[t], drain_n[t] = r, len(pool.starting), dn
        w_s, st, tp, frac[t], done, lost = service.step(r, dn, a[t], p[t], dr[t], dt[t])
        wait[t], step[t], tpot[t], dropped[t] = w_s, st, tp, lost
        obs.in_flight[t] = service.in_flight
        obs.completed[t], obs.errors[t], obs.tpot_ms[t] = done, lost, tp
        rate_ms = service.model.prefill_tokens_per_s * chunk_ms / (st + chunk_ms) / 1000.0
        obs.ttft_p99_ms[t] = 1000.0 * w_s + st + p99_prompt[t // WINDOW_S] / rate_ms
        batch[t] = service.batch / max(1, r + dn)
    good = _good(sc, settings, models, setting_i, wait, step, tpot, dropped)
    run = _Run(ready_n, start_n, drain_n, frac, batch, [models[s] for s in settings], setting_i)
    return _result(sc, policy.name, seed, pool, good, dropped, run, time.perf_counter() - started)


@dataclass
class _Run:
    ready_n: Any
    start_n: Any
    drain_n: Any
    frac: F64
    batch: F64
    models: list[ReplicaModel]  # by setting index
    setting_i: Any  # per second


def _good(
    sc: Scenario, settings: list[ReplicaSetting], models: dict[ReplicaSetting, ReplicaModel],
    setting_i: Any, wait: F64, step: F64, tpot: F64, dropped: F64,
) -> F64:  # fmt: skip
    """Good requests per second; a second's TTFT follows the prefill rate of its setting."""
    d = sc.demand
    if len(settings) == 1:
        return good_requests(d, 0, d.seconds, wait, step, tpot, dropped, sc.targets,
                             sc.model, sc.life_s)  # fmt: skip
    good = np.zeros(d.seconds)
    for i, s in enumerate(settings):
        g = good_requests(d, 0, d.seconds, wait, step, tpot, dropped, sc.targets, models[s],
                          sc.life_s)  # fmt: skip
        mask = setting_i == i
        good[mask] = g[mask]
    return good


def _p99_prompt(d: Demand) -> list[float]:
    """Each window's 99th-percentile prompt (tokens), from its CDF table."""
    idx = np.argmax(d.prompt_cdf >= 0.99, axis=1)
    return [float(x) for x in PROMPT_GRID[idx]]


def _drain_s(service: FluidService) -> float:
    if service.batch <= 0:
        return 1.0
    m = service.model
    step_ms = m.decode_step_ms(service.batch)  # pessimistic: the whole batch on one replica
    remaining = service.decode_left / service.batch
    return float(min(120.0, max(1.0, DRAIN_MEANS * remaining * step_ms / 1000.0)))


def _power(run: _Run) -> tuple[F64, F64]:
    """Per second: one ready replica's power and one draining replica's, at its setting."""
    frac, batch = run.frac, run.batch
    busy = np.minimum(1.0, batch)
    p_ready, p_drain = np.zeros(frac.size), np.zeros(frac.size)
    for i, model in enumerate(run.models):
        mask = run.setting_i == i if len(run.models) > 1 else slice(None)
        f, b, u = frac[mask], batch[mask], busy[mask]
        p_ready[mask] = model.power_w(f, (1.0 - f) * u, b)
        p_drain[mask] = model.power_w(0.0, u, b)
    return p_ready, p_drain


def _result(
    sc: Scenario, name: str, seed: int, pool: Pool, good: F64, dropped: F64, run: _Run,
    wall_s: float,
) -> RunResult:  # fmt: skip
    m = sc.model
    d = sc.demand
    ready_n, start_n, drain_n = run.ready_n, run.start_n, run.drain_n
    p_ready, p_drain = _power(run)
    held = ready_n + start_n + drain_n
    energy_j = float(
        (ready_n * p_ready).sum() + (drain_n * p_drain).sum()
        + (start_n * m.held_idle_power_w).sum()
    )  # fmt: skip
    freed = np.maximum(0, sc.max_replicas - held)
    pool_j = energy_j + float(freed.sum()) * m.no_process_idle_power_w
    requests = float(d.arrivals.sum())
    failed = float(dropped.sum())
    served = requests - failed
    metrics = {
        "slo_attainment_pct": round(100.0 * float(good.sum()) / max(1.0, requests), 4),
        "gpu_hours": round(float(held.sum()) / 3600.0, 3),
        "energy_kwh": round(energy_j / 3.6e6, 3),
        "energy_per_request_j": round(energy_j / max(1.0, served), 4),
        "pool_energy_kwh": round(pool_j / 3.6e6, 3),
        "requests": round(requests),
        "requests_served": round(served),
        "requests_failed": round(failed),
        "scale_events": pool.scale_events,
        "max_replicas": int((ready_n + start_n).max()) if d.seconds else 0,
        "cold_starts": pool.cold_starts,
        **_setting_metrics(run),
        "wall_s": round(wall_s, 2),
    }
    bins = np.arange(0, d.seconds, PLOT_BIN_S)
    counts = np.diff(np.append(bins, d.seconds))
    rep = np.add.reduceat(held.astype(np.float64), bins) / counts
    arrived = np.add.reduceat(d.arrivals, bins)
    att = 100.0 * np.add.reduceat(good, bins) / np.maximum(arrived, 1e-9)
    att = np.where(arrived > 0, att, 100.0)
    return RunResult(name, seed, metrics, rep, att, np.add.reduceat(good, bins), arrived)


def _setting_metrics(run: _Run) -> dict[str, Any]:
    """The SM clock ratio and power cap the ready replicas ran at, weighted by replica-seconds,
    and how many times the setting changed."""
    weight = run.ready_n.astype(np.float64)
    total = max(1e-9, float(weight.sum()))
    clocks = np.array([mm.setting.sm_clock_ratio if mm.setting else 1.0 for mm in run.models])
    caps = np.array([mm.setting.cap_fraction if mm.setting else 1.0 for mm in run.models])
    changes = int(np.count_nonzero(np.diff(run.setting_i))) if run.setting_i.size else 0
    return {
        "mean_clock_ratio": round(float((clocks[run.setting_i] * weight).sum()) / total, 4),
        "mean_cap_fraction": round(float((caps[run.setting_i] * weight).sum()) / total, 4),
        "setting_changes": changes,
    }


def demand_series(d: Demand) -> F64:
    """Requests/s per PLOT_BIN_S, for the plot."""
    bins = np.arange(0, d.seconds, PLOT_BIN_S)
    counts = np.diff(np.append(bins, d.seconds))
    return np.add.reduceat(d.arrivals, bins) / counts


def default_rate_scale(
    rate: F64, prompt: F64, decode: F64, model: ReplicaModel, targets: Targets, replicas: int = 32
) -> float:
    """The scale at which the busiest 600 s window needs `replicas` at steady-state capacity."""
    needed = 0.0
    for r, pr, de in zip(rate, prompt, decode, strict=True):
        if r <= 0:
            continue
        cap = model.max_rate_per_s(float(pr), float(de), targets.tpot_ms)
        needed = max(needed, r / cap if cap > 0 else math.inf)
    if not needed or not math.isfinite(needed):
        raise ValueError("no demand, or requests one replica cannot serve within the targets")
    return replicas / needed
