"""An Azure LLM trace (TIMESTAMP,ContextTokens,GeneratedTokens) to per-second demand.

`rate_scale` K replays the trace's requests K times over (floor(K) copies and a random
K - floor(K) share of one more), each copy shifted by its own uniform offset in [0, 60) s and
wrapped inside the trace's span: K times the load with the trace's minute-scale shape, every
request keeping its own prompt and output length. (Compressing time, as `aiwo bench slo
--rate-scale` does, would also shorten the day.)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.autoscale.demand import F64, PROMPT_GRID, WINDOW_S, Demand, DemandError, cdf_on_grid
from bench.slo.trace import LlmTrace, read_llm_trace
from bench.trace import TraceError

COPY_JITTER_S = 60.0


def read(path: Path) -> LlmTrace:
    if not path.is_file():
        raise DemandError(f"--trace {path}: no such file")
    try:
        return read_llm_trace(path)
    except TraceError as e:
        raise DemandError(str(e)) from None


def span_days(trace: LlmTrace) -> float:
    return max(1.0, math.ceil(trace.span_s + 1.0)) / 86_400.0


def expected(trace: LlmTrace, start_s: int, seconds: int) -> tuple[F64, F64, F64]:
    """Per 600 s window at rate scale 1: requests/s, mean prompt, mean decode tokens."""
    t, p, d = _window(trace, start_s, seconds)
    nw = -(-seconds // WINDOW_S)
    w = (t // WINDOW_S).astype(np.int64)
    n = np.bincount(w, minlength=nw)[:nw].astype(np.float64)
    span = np.full(nw, float(WINDOW_S))
    span[-1] = seconds - WINDOW_S * (nw - 1)
    safe = np.maximum(n, 1e-12)
    prompt = np.bincount(w, weights=p, minlength=nw)[:nw] / safe
    decode = np.bincount(w, weights=np.maximum(d - 1.0, 0.0), minlength=nw)[:nw] / safe
    return n / span, prompt, decode


def _window(trace: LlmTrace, start_s: int, seconds: int) -> tuple[F64, F64, F64]:
    t = trace.arrival_s - start_s
    keep = (t >= 0) & (t < seconds)
    return (
        t[keep],
        trace.prompt_tokens[keep].astype(np.float64),
        trace.output_tokens[keep].astype(np.float64),
    )


def sample(
    trace: LlmTrace, start_s: int, seconds: int, rate_scale: float, seed: int, source: str
) -> Demand:
    if seconds <= 0:
        raise DemandError("the trace's selection is empty")
    rng = np.random.default_rng(seed)
    t0, p0, o0 = _window(trace, start_s, seconds)
    copies = math.floor(rate_scale)
    parts_t, parts_p, parts_o = [], [], []
    for c in range(copies + 1):
        keep = np.ones(t0.size, bool) if c < copies else rng.random(t0.size) < rate_scale - copies
        shift = rng.uniform(0.0, COPY_JITTER_S)
        parts_t.append((t0[keep] + shift) % seconds)
        parts_p.append(p0[keep])
        parts_o.append(o0[keep])
    t = np.concatenate(parts_t)
    p = np.concatenate(parts_p)
    o = np.concatenate(parts_o)
    return from_requests(t, p, o, seconds, source, rate_scale)


def from_requests(
    t: F64, p: F64, o: F64, seconds: int, source: str, rate_scale: float = 1.0
) -> Demand:
    """Per-second demand of explicit requests: arrival s (from 0), prompt and output tokens."""
    sec = t.astype(np.int64)
    arrivals = np.bincount(sec, minlength=seconds)[:seconds].astype(np.float64)
    prompt = _sums(sec, p, seconds)
    dreq = _sums(sec, (o >= 2).astype(np.float64), seconds)
    dtok = _sums(sec, np.maximum(o - 1.0, 0.0), seconds)
    nw = -(-seconds // WINDOW_S)
    win = sec // WINDOW_S
    cdf = np.ones((nw, PROMPT_GRID.size))
    for w in range(nw):
        mine = p[win == w]
        if mine.size:
            lengths, counts = np.unique(mine, return_counts=True)
            cdf[w] = cdf_on_grid(lengths, counts.astype(np.float64))
    return Demand(source, arrivals, prompt, dreq, dtok, cdf, rate_scale)


def _sums(sec: npt.NDArray[np.int64], weights: F64, seconds: int) -> F64:
    return np.bincount(sec, weights=weights, minlength=seconds)[:seconds].astype(np.float64)
