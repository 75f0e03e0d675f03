"""ServeGen client folders (chunk-N-trace.csv, chunk-N-dataset.json) to per-second demand.

Sampled as ServeGen does (/work/shared/data/README.md, "How ServeGen itself samples it"): per
client and 600 s window, inter-arrival times from the window's fitted distribution (Gamma or
Weibull shape, or Exponential) scaled so their mean is 1 / (rate x rate_scale); lengths from
the client's distributions of that 6 h window, input and output drawn independently. Clients
without a dataset file (or with an empty window) borrow the mixture of the other clients'
distributions of the same window, weighted by their requests.

Two shortcuts keep 1.4 billion requests tractable, both documented in BENCHMARKS.md:
- a smooth client-window (CV <= 2) with more than EXACT_ARRIVALS_MAX requests gets per-second
  counts from a gamma with the renewal process's mean and variance (rate, rate x CV^2) instead
  of one gap per request; bursty windows (CV > 2) are always sampled gap by gap;
- a client-window with more than EXACT_LENGTHS_MAX requests gets per-second token sums from
  the normal approximation (mean n mu, variance n sigma^2) instead of one draw per request.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.autoscale.demand import F64, PROMPT_GRID, WINDOW_S, Demand, DemandError, cdf_on_grid

LENGTH_WINDOW_S = 21_600  # the dataset files' 6 h windows
EXACT_ARRIVALS_MAX = 20_000
EXACT_LENGTHS_MAX = 20_000
SMOOTH_CV = 2.0
_PAIR = re.compile(r"(\d+)\s*:\s*([0-9.eE+-]+)")
_FILE = re.compile(r"chunk-(\d+)-trace\.csv$")


@dataclass(frozen=True)
class Lengths:
    """One discrete length distribution pair, with what sampling and the fluid model need."""

    prompt: F64  # lengths
    prompt_cum: F64  # cumulative probabilities (last = 1)
    output: F64
    output_cum: F64
    mean_prompt: float
    sd_prompt: float
    mean_decode: float  # E[max(L - 1, 0)]
    sd_decode: float
    p_decode: float  # P(L >= 2)
    prompt_cdf: F64  # on PROMPT_GRID

    @staticmethod
    def of(prompt: dict[int, float], output: dict[int, float]) -> Lengths:
        pl, pp = _arrays(prompt)
        ol, op = _arrays(output)
        dec = np.maximum(ol - 1.0, 0.0)
        mean_p = float(pl @ pp)
        mean_d = float(dec @ op)
        return Lengths(
            pl,
            np.cumsum(pp),
            ol,
            np.cumsum(op),
            mean_p,
            math.sqrt(max(0.0, float((pl - mean_p) ** 2 @ pp))),
            mean_d,
            math.sqrt(max(0.0, float((dec - mean_d) ** 2 @ op))),
            float(op[ol >= 2].sum()),
            cdf_on_grid(pl, pp),
        )


def _arrays(dist: dict[int, float]) -> tuple[F64, F64]:
    lengths = np.array(sorted(dist), dtype=np.float64)
    probs = np.array([dist[int(v)] for v in lengths], dtype=np.float64)
    return lengths, probs / probs.sum()


def _mix(parts: list[tuple[float, dict[int, float], dict[int, float]]]) -> Lengths | None:
    prompt: dict[int, float] = {}
    output: dict[int, float] = {}
    for weight, p, o in parts:
        for k, v in p.items():
            prompt[k] = prompt.get(k, 0.0) + weight * v
        for k, v in o.items():
            output[k] = output.get(k, 0.0) + weight * v
    return Lengths.of(prompt, output) if prompt and output else None


@dataclass(frozen=True)
class Client:
    name: str
    window_start_s: F64
    rate: F64
    cv: F64
    pattern: tuple[str, ...]
    shape: F64
    # {6 h window start: (prompt dist, output dist)}; None: no dataset file
    lengths: dict[int, tuple[dict[int, float], dict[int, float]]] | None


def _parse_dist(text: object) -> dict[int, float]:
    if isinstance(text, dict):
        return {int(k): float(v) for k, v in text.items() if float(v) > 0}
    return {int(k): float(v) for k, v in _PAIR.findall(str(text)) if float(v) > 0}


def read_clients(folder: Path) -> list[Client]:
    if not folder.is_dir():
        raise DemandError(f"--servegen {folder}: not a folder")
    files = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _FILE.search(p.name)))
    if not files:
        raise DemandError(f"--servegen {folder}: no chunk-N-trace.csv files")
    clients = []
    for n, path in files:
        cols: list[list[str]] = []
        try:
            with path.open(newline="") as fh:
                cols = [row for row in csv.reader(fh) if row]
        except OSError as e:
            raise DemandError(f"{path}: cannot read: {e.strerror}") from None
        try:
            start = np.array([float(r[0]) for r in cols])
            rate = np.array([float(r[1]) for r in cols])
            cv = np.array([float(r[2]) for r in cols])
            shape = np.array([float(r[4]) if r[4] else 0.0 for r in cols])
        except (ValueError, IndexError):
            raise DemandError(f"{path}: expected rows window_start,rate,cv,pattern,a,b") from None
        if np.any(rate < 0) or not np.all(np.isfinite(rate)):
            raise DemandError(f"{path}: negative or non-finite rate")
        dataset = folder / f"chunk-{n}-dataset.json"
        lengths = None
        if dataset.exists():
            try:
                raw = json.loads(dataset.read_text())
            except (OSError, ValueError) as e:
                raise DemandError(f"{dataset}: not readable JSON: {e}") from None
            lengths = {
                int(k): (_parse_dist(v.get("input_tokens")), _parse_dist(v.get("output_tokens")))
                for k, v in raw.items()
            }
        clients.append(
            Client(f"chunk-{n}", start, rate, cv, tuple(r[3] for r in cols), shape, lengths)
        )
    return clients


def total_days(clients: list[Client]) -> float:
    end = max(float(c.window_start_s[-1]) + WINDOW_S for c in clients if c.rate.size)
    return end / 86_400.0


def length_table(clients: list[Client], first_s: int, last_s: int) -> dict[int, list[Lengths]]:
    """{6 h window: [Lengths per client, in client order]}, borrowers given the mixture."""
    out: dict[int, list[Lengths]] = {}
    for key in range(first_s // LENGTH_WINDOW_S, -(-last_s // LENGTH_WINDOW_S)):
        k6 = key * LENGTH_WINDOW_S
        parts = []
        own: list[Lengths | None] = []
        for c in clients:
            entry = c.lengths.get(k6) if c.lengths else None
            if entry and entry[0] and entry[1]:
                lo, hi = np.searchsorted(c.window_start_s, [k6, k6 + LENGTH_WINDOW_S])
                parts.append((float(c.rate[lo:hi].sum()) + 1e-9, entry[0], entry[1]))
                own.append(Lengths.of(*entry))
            else:
                own.append(None)
        mixed = _mix(parts)
        if mixed is None:
            raise DemandError(f"no client has length distributions for window {k6} s")
        out[k6] = [x if x is not None else mixed for x in own]
    return out


def expected(clients: list[Client], start_s: int, seconds: int) -> tuple[F64, F64, F64]:
    """Per 600 s window at rate scale 1: requests/s, mean prompt, mean decode tokens."""
    table = length_table(clients, start_s, start_s + seconds)
    nw = -(-seconds // WINDOW_S)
    rate, prompt, decode = np.zeros(nw), np.zeros(nw), np.zeros(nw)
    for ci, c in enumerate(clients):
        for w in range(nw):
            ws = start_s + w * WINDOW_S
            i = int(np.searchsorted(c.window_start_s, ws))
            if i >= c.rate.size or c.window_start_s[i] != ws or c.rate[i] <= 0:
                continue
            ln = table[(ws // LENGTH_WINDOW_S) * LENGTH_WINDOW_S][ci]
            rate[w] += c.rate[i]
            prompt[w] += c.rate[i] * ln.mean_prompt
            decode[w] += c.rate[i] * ln.mean_decode
    safe = np.maximum(rate, 1e-12)
    return rate, prompt / safe, decode / safe


def sample(
    clients: list[Client], start_s: int, seconds: int, rate_scale: float, seed: int, source: str
) -> Demand:
    rng = np.random.default_rng(seed)
    table = length_table(clients, start_s, start_s + seconds)
    nw = -(-seconds // WINDOW_S)
    arrivals, prompt, dreq, dtok = (np.zeros(nw * WINDOW_S) for _ in range(4))
    cdf_acc = np.zeros((nw, PROMPT_GRID.size))
    for ci, c in enumerate(clients):
        for w in range(nw):
            ws = start_s + w * WINDOW_S
            i = int(np.searchsorted(c.window_start_s, ws))
            if i >= c.rate.size or c.window_start_s[i] != ws or c.rate[i] <= 0:
                continue
            lam = float(c.rate[i]) * rate_scale
            counts = _counts(rng, lam, float(c.cv[i]), c.pattern[i], float(c.shape[i]))
            n = int(counts.sum())
            if n == 0:
                continue
            ln = table[(ws // LENGTH_WINDOW_S) * LENGTH_WINDOW_S][ci]
            sl = slice(w * WINDOW_S, (w + 1) * WINDOW_S)
            arrivals[sl] += counts
            p, dr, dt = _lengths(rng, counts, n, ln)
            prompt[sl] += p
            dreq[sl] += dr
            dtok[sl] += dt
            cdf_acc[w] += n * ln.prompt_cdf
    totals = cdf_acc[:, -1:].copy()
    cdf = np.where(totals > 0, cdf_acc / np.maximum(totals, 1e-12), 1.0)
    cut = slice(0, seconds)
    return Demand(source, arrivals[cut], prompt[cut], dreq[cut], dtok[cut], cdf, rate_scale)


def _counts(rng: np.random.Generator, lam: float, cv: float, pattern: str, shape: float) -> F64:
    """Arrivals per second over one 600 s window at mean rate `lam`."""
    expected_n = lam * WINDOW_S
    if expected_n > EXACT_ARRIVALS_MAX and cv <= SMOOTH_CV:
        var = max(cv, 1e-3) ** 2
        raw = rng.gamma(lam / var, var, WINDOW_S)
        base = np.floor(raw)
        return base + (rng.random(WINDOW_S) < raw - base)
    mean_gap = 1.0 / lam
    size = int(expected_n * 1.1 + 5.0 * math.sqrt(expected_n) + 16)
    chunks = []
    reach = rng.random() * WINDOW_S / max(expected_n, 1.0)  # the first arrival's offset
    while True:
        gaps = _gaps(rng, pattern, shape, mean_gap, size)
        times = reach + np.cumsum(gaps)
        chunks.append(times[times < WINDOW_S])
        if times[-1] >= WINDOW_S:
            break
        reach = float(times[-1])
    t = np.concatenate(chunks)
    return np.bincount(t.astype(np.int64), minlength=WINDOW_S)[:WINDOW_S].astype(np.float64)


def _gaps(rng: np.random.Generator, pattern: str, shape: float, mean: float, size: int) -> F64:
    if pattern == "Gamma" and shape > 0:
        return rng.gamma(shape, mean / shape, size)
    if pattern == "Weibull" and shape > 0:
        return rng.weibull(shape, size) * (mean / math.gamma(1.0 + 1.0 / shape))
    return rng.exponential(mean, size)


def _lengths(rng: np.random.Generator, counts: F64, n: int, ln: Lengths) -> tuple[F64, F64, F64]:
    """Per-second prompt tokens, decode requests and decode tokens of `counts` arrivals."""
    if n <= EXACT_LENGTHS_MAX:
        sec = np.repeat(np.arange(WINDOW_S), counts.astype(np.int64))
        pl = _draw(rng, ln.prompt, ln.prompt_cum, n)
        ol = _draw(rng, ln.output, ln.output_cum, n)
        p = np.bincount(sec, weights=pl, minlength=WINDOW_S).astype(np.float64)
        dr = np.bincount(sec, weights=(ol >= 2).astype(np.float64), minlength=WINDOW_S)
        dt = np.bincount(sec, weights=np.maximum(ol - 1.0, 0.0), minlength=WINDOW_S)
        return p, dr.astype(np.float64), dt.astype(np.float64)
    root = np.sqrt(counts)
    q = min(1.0, max(0.0, ln.p_decode))
    noise = rng.standard_normal((3, WINDOW_S))
    p = np.maximum(0.0, counts * ln.mean_prompt + root * ln.sd_prompt * noise[0])
    dr = np.clip(counts * q + np.sqrt(counts * q * (1.0 - q)) * noise[1], 0.0, counts)
    dt = np.maximum(0.0, counts * ln.mean_decode + root * ln.sd_decode * noise[2])
    return p, dr, dt


def _draw(rng: np.random.Generator, values: F64, cum: F64, n: int) -> F64:
    return values[np.minimum(np.searchsorted(cum, rng.random(n)), values.size - 1)]
