"""A fluid model of one service's replicas, one second at a time.

The service's ready replicas share its load evenly (the gateway routes to the least
outstanding), so they are modelled as one pool in lockstep:

- Prefill: arriving prompts join a FIFO backlog of prompt tokens. Chunked prefill gives each
  step up to `prefill_chunk_tokens` of prompt work next to the decode batch, so the pool
  prefills at most n x R x f_max tokens/s, f_max = (chunk / R) / (step + chunk / R). A request
  joins the decode batch when its prompt is done (its first token); one that needs only one
  token is then complete. A request that would wait past the gateway timeout fails.
- Decode: B sequences run on the ready and draining replicas; a step takes s0 + s1 x B / n and
  the share of time prefill leaves; tokens/s = B / step. Sequences leave in proportion to the
  tokens produced over the tokens they still owe (memoryless departures: Little's law holds in
  steady state whatever the length distribution).
- Per request: TTFT = wait in the backlog + its own prefill at the pool's rate + one step; it
  meets the target when its prompt is short enough, which the window's prompt-length CDF
  answers. TPOT = the step time over the decode share, averaged over the request's decode life.

bench/autoscale/exact.py simulates the same engines request by request; the test compares them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.autoscale.demand import F64, PROMPT_GRID, WINDOW_S, Demand
from gpumodel.serving import ReplicaModel

# Seconds a request may wait for its first token before the gateway answers 504 [E]: a common
# proxy read timeout (nginx's proxy_read_timeout default is 60 s).
DEFAULT_TIMEOUT_S = 60.0
_LOG_GRID = np.log(PROMPT_GRID)


@dataclass(frozen=True)
class Targets:
    ttft_ms: float
    tpot_ms: float


_STATE = (
    "q_tokens", "q_requests", "q_dreq", "q_dtok", "batch", "decode_left", "held_s", "in_flight",
)  # fmt: skip


class FluidService:
    """The pool's state and its one-second step. Scalars only: this is the hot loop."""

    __slots__ = (
        "batch",
        "decode_left",
        "held_s",
        "in_flight",
        "model",
        "q_dreq",
        "q_dtok",
        "q_requests",
        "q_tokens",
        "timeout_s",
    )  # fmt: skip

    def __init__(self, model: ReplicaModel, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.model = model
        self.timeout_s = timeout_s
        self.q_tokens = 0.0
        self.q_requests = 0.0
        self.q_dreq = 0.0
        self.q_dtok = 0.0
        self.batch = 0.0
        self.decode_left = 0.0
        self.held_s = 0.0
        # Requests in flight, averaged over the last second (what a gateway's samples average
        # to; the end-of-second state misses requests that came and went within it).
        self.in_flight = 0.0

    def copy(self) -> FluidService:
        other = FluidService(self.model, self.timeout_s)
        for name in _STATE:
            setattr(other, name, getattr(self, name))
        return other

    def step(
        self, ready: int, draining: int, arrivals: float, prompt: float, dreq: float, dtok: float
    ) -> tuple[float, float, float, float, float, float]:
        """One second. Returns (wait_s, step_ms, tpot_ms, prefill_fraction, completed, dropped).

        wait_s: the mean wait of this second's arrivals before their prefill starts.
        step_ms: the decode step on ready replicas; tpot_ms: step / decode share.
        """
        m = self.model
        rate = m.prefill_tokens_per_s
        pool = ready + draining
        q_start = self.q_tokens
        q_req_start = self.q_requests
        self.q_tokens += prompt
        self.q_requests += arrivals
        self.q_dreq += dreq
        self.q_dtok += dtok
        per_replica = self.batch / pool if pool else 0.0
        step_ms = m.decode_step_base_ms + m.decode_step_per_seq_ms * per_replica
        chunk_ms = 1000.0 * m.prefill_chunk_tokens / rate
        f_max = chunk_ms / (step_ms + chunk_ms)
        dropped = 0.0
        joined = done_first = 0.0
        f = 0.0
        if ready > 0:
            self.held_s = 0.0
            cap = ready * rate * f_max
            wait_s = max(0.0, (q_start + 0.5 * prompt) / cap - 0.5)
            frac = min(1.0, cap / self.q_tokens) if self.q_tokens > 0 else 1.0
            slots = m.max_batch * pool - self.batch
            if self.q_dreq * frac > slots:
                frac = max(0.0, slots) / self.q_dreq
            served = self.q_tokens * frac
            joined, done_first = self.q_dreq * frac, (self.q_requests - self.q_dreq) * frac
            self.batch += joined
            self.decode_left += self.q_dtok * frac
            self._take(1.0 - frac)
            f = served / (ready * rate)
            started = joined + done_first
            # request-seconds from arrival to first token of the requests prefilled this second
            prefill_conc = started * (wait_s + step_ms / 1000.0) + served / rate
            excess = self.q_tokens - self.timeout_s * cap
            if excess > 0 and self.q_tokens > 0:
                dropped = self._drop(excess / self.q_tokens)
        else:
            prefill_conc = 0.0
            wait_s = self.held_s + 0.5
            self.held_s += 1.0
            if self.held_s > self.timeout_s and self.q_requests > 0:
                dropped = self._drop(1.0 / self.timeout_s)
        completed = done_first
        decode_conc = 0.0
        if pool > 0 and self.batch > 0:
            per_replica = self.batch / pool
            step_ms = m.decode_step_base_ms + m.decode_step_per_seq_ms * per_replica
            share = (ready * (1.0 - f) + draining) / pool
            produced = min(self.decode_left, self.batch * share * 1000.0 / step_ms)
            decode_conc = produced * step_ms / share / 1000.0  # sequence-seconds this second
            if produced >= self.decode_left - 1e-9:
                left = self.batch
            else:
                left = self.batch * produced / self.decode_left
            self.batch -= left
            self.decode_left -= produced
            completed += left
            if self.batch < 1e-9:
                self.batch = self.decode_left = 0.0
        tpot_ms = step_ms / max(1e-3, 1.0 - f)
        queue_conc = 0.5 * (q_req_start + self.q_requests)
        self.in_flight = queue_conc + prefill_conc + decode_conc
        return wait_s, step_ms, tpot_ms, f, completed, dropped

    def _take(self, keep: float) -> None:
        self.q_tokens *= keep
        self.q_requests *= keep
        self.q_dreq *= keep
        self.q_dtok *= keep

    def _drop(self, share: float) -> float:
        share = min(1.0, share)
        lost = self.q_requests * share
        self._take(1.0 - share)
        return lost


def ttft_ok_fraction(
    wait_s: F64, step_ms: F64, prefill_fraction_max: F64, cdf_rows: F64, ttft_ms: float,
    model: ReplicaModel,
) -> F64:  # fmt: skip
    """Share of each second's arrivals whose TTFT fits the target (cdf_rows: one per second)."""
    budget_s = ttft_ms / 1000.0 - wait_s - step_ms / 1000.0
    tokens = budget_s * model.prefill_tokens_per_s * prefill_fraction_max
    x = np.log(np.maximum(tokens, 1e-9))
    # Interpolate each row's CDF at its own x: rows differ per window, so go window by window.
    out = np.zeros(x.size)
    idx = np.clip(np.searchsorted(_LOG_GRID, x) - 1, 0, _LOG_GRID.size - 2)
    lo, hi = _LOG_GRID[idx], _LOG_GRID[idx + 1]
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    rows = np.arange(x.size)
    out = cdf_rows[rows, idx] * (1 - t) + cdf_rows[rows, idx + 1] * t
    out = np.where(x < _LOG_GRID[0], 0.0, out)
    return np.where(tokens <= 0, 0.0, out)


def f_max_of(step_ms: F64, model: ReplicaModel) -> F64:
    chunk_ms = 1000.0 * model.prefill_chunk_tokens / model.prefill_tokens_per_s
    return chunk_ms / (step_ms + chunk_ms)


def decode_life_s(demand: Demand, targets: Targets) -> int:
    """Seconds a typical decoding request lives at the TPOT target (TPOT averaging window)."""
    return max(
        1, min(120, math.ceil(demand.mean_decode_tokens_per_decoder() * targets.tpot_ms / 1000))
    )


def forward_mean(x: F64, window: int) -> F64:
    """Mean of x[t : t + window] for each t (shorter at the end)."""
    if window <= 1:
        return x
    c = np.concatenate([[0.0], np.cumsum(x)])
    hi = np.minimum(np.arange(x.size) + window, x.size)
    return (c[hi] - c[: x.size]) / (hi - np.arange(x.size))


def mean_tpot_ms(tpot_ms: F64, life_s: int) -> F64:
    """The TPOT a request starting each second sees over its decode life: life / tokens,
    the harmonic mean of the per-second TPOTs (tokens per second add, times per token do not).
    """
    return 1.0 / forward_mean(1.0 / np.maximum(tpot_ms, 1e-9), life_s)


def good_requests(
    demand: Demand, lo: int, hi: int, wait_s: F64, step_ms: F64, tpot_ms: F64, dropped: F64,
    targets: Targets, model: ReplicaModel, life_s: int,
) -> F64:  # fmt: skip
    """Requests of each second [lo, hi) that meet both targets (arrays cover [lo, hi))."""
    cdf_rows = demand.prompt_cdf[np.arange(lo, hi) // WINDOW_S]
    ok_ttft = ttft_ok_fraction(
        wait_s, step_ms, f_max_of(step_ms, model), cdf_rows, targets.ttft_ms, model
    )
    ok_tpot = mean_tpot_ms(tpot_ms, life_s) <= targets.tpot_ms
    a = demand.arrivals[lo:hi]
    d = demand.decode_requests[lo:hi]
    good = ok_ttft * ((a - d) + d * ok_tpot)
    return np.maximum(0.0, good - dropped)


def segments_good(
    state: FluidService, segments: list[tuple[int, int, int]], demand: Demand,
    targets: Targets, life_s: int,
) -> tuple[F64, FluidService]:  # fmt: skip
    """Good requests per second over consecutive segments (lo, hi, ready replicas), from a copy
    of `state`; and the state at the end of the first segment."""
    s = state.copy()
    lo0, hi_end = segments[0][0], segments[-1][1]
    n = hi_end - lo0
    wait, step, tpot, drop = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    a, p = demand.arrivals, demand.prompt_tokens
    dr, dt = demand.decode_requests, demand.decode_tokens
    after_first = s
    for k, (lo, hi, ready) in enumerate(segments):
        for t in range(lo, hi):
            i = t - lo0
            wait[i], step[i], tpot[i], _, _, drop[i] = s.step(ready, 0, a[t], p[t], dr[t], dt[t])
        if k == 0:
            after_first = s.copy()
    good = good_requests(demand, lo0, hi_end, wait, step, tpot, drop, targets, s.model, life_s)
    return good, after_first


def window_attainment(
    state: FluidService, ready: int, demand: Demand, lo: int, hi: int, targets: Targets,
    life_s: int, tail_s: int = 0,
) -> tuple[float, float, FluidService]:  # fmt: skip
    """Good and total requests arriving in [lo, hi) with `ready` replicas from `state` (copied),
    run on for `tail_s` more seconds so late arrivals finish; and the state at hi."""
    end = min(demand.seconds, hi + tail_s)
    segments = [(lo, hi, ready)] + ([(hi, end, ready)] if end > hi else [])
    good, after = segments_good(state, segments, demand, targets, life_s)
    return float(good[: hi - lo].sum()), float(demand.arrivals[lo:hi].sum()), after
