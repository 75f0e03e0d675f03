"""When requests arrive and how big they are, from a real trace, as a schedule.

- Azure LLM CSV (`--trace`): the trace's own timestamps and token counts; `rate_scale` K
  compresses time (K = 2: twice the rate, the same bursts in half the time).
- ServeGen client folders (`--servegen`): per client and 600 s window, inter-arrival times
  drawn from the distribution fitted to that window (Gamma or Weibull, with the fitted shape;
  exponential where none is given), its scale set so the mean rate is `rate × K`: ServeGen's
  own sampling. Token lengths come from the client's 6 h distribution, or, where the client
  has none (its dataset file is absent upstream), from the other clients of that window.
Pure: files and a seed in, arrays out.
"""

from __future__ import annotations

import ast
import csv
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.slo.trace import read_llm_trace, reshape
from bench.trace import TraceError

SERVEGEN_WINDOW_S = 600.0
SERVEGEN_DATASET_WINDOW_S = 21_600.0  # the dataset files' keys: 6 h windows
_CHUNK = re.compile(r"^chunk-(\d+)-trace\.csv$")
# Where a window gives no lengths at all (every client silent in its dataset): a default
# [E] of the Azure conversation trace's order of magnitude.
_DEFAULT_PROMPT, _DEFAULT_OUTPUT = 1000, 200


@dataclass(frozen=True)
class Schedule:
    """Requests by arrival, offsets in seconds from the start of the run."""

    source: str
    offset_s: npt.NDArray[np.float64]
    prompt_tokens: npt.NDArray[np.int64]
    output_tokens: npt.NDArray[np.int64]
    duration_s: float

    def __len__(self) -> int:
        return int(self.offset_s.size)


def from_azure(path: Path, rate_scale: float, duration_s: float, start_s: float = 0.0) -> Schedule:
    trace = reshape(read_llm_trace(path), rate_scale=rate_scale)
    t = trace.arrival_s
    keep = (t >= start_s) & (t < start_s + duration_s)
    return Schedule(
        f"azure:{path.name}",
        t[keep] - start_s,
        trace.prompt_tokens[keep],
        trace.output_tokens[keep],
        duration_s,
    )


@dataclass(frozen=True)
class _Window:
    start_s: float
    rate: float
    pattern: str
    shape: float


def _read_windows(path: Path) -> list[_Window]:
    windows: list[_Window] = []
    try:
        with path.open(newline="") as fh:
            for line, row in enumerate(csv.reader(fh), start=1):
                if not row:
                    continue
                if len(row) < 4:
                    raise TraceError(path, line, "-", f"expected 6 columns, got {len(row)}")
                try:
                    start, rate = float(row[0]), float(row[1])
                    shape = float(row[4]) if len(row) > 4 and row[4] else 0.0
                except ValueError:
                    raise TraceError(path, line, "-", f"not a number in {row[:5]}") from None
                if not (math.isfinite(rate) and rate >= 0 and math.isfinite(shape)):
                    raise TraceError(path, line, "rate", f"bad rate or shape in {row[:5]}")
                windows.append(_Window(start, rate, row[3].strip(), shape))
    except OSError as e:
        raise TraceError(path, 0, "-", f"cannot read: {e.strerror}") from e
    return windows


def _gaps(
    rng: np.random.Generator, window: _Window, rate: float, n: int
) -> npt.NDArray[np.float64]:
    """`n` inter-arrival times with mean 1/rate and the window's fitted shape."""
    mean = 1.0 / rate
    if window.pattern == "Gamma" and window.shape > 0:
        return rng.gamma(window.shape, mean / window.shape, n)
    if window.pattern == "Weibull" and window.shape > 0:
        return rng.weibull(window.shape, n) * (mean / math.gamma(1.0 + 1.0 / window.shape))
    return rng.exponential(mean, n)


def _window_arrivals(
    rng: np.random.Generator, window: _Window, rate: float, lo: float, hi: float
) -> npt.NDArray[np.float64]:
    out: list[npt.NDArray[np.float64]] = []
    t = window.start_s
    end = min(window.start_s + SERVEGEN_WINDOW_S, hi)
    batch = max(16, int(rate * SERVEGEN_WINDOW_S * 1.2))
    while t < end:
        times = t + np.cumsum(_gaps(rng, window, rate, batch))
        out.append(times[times < end])
        t = float(times[-1])
    if not out:
        return np.empty(0)
    times = np.concatenate(out)
    return times[times >= lo]


def _parse_lengths(raw: object) -> dict[int, float]:
    value = ast.literal_eval(raw) if isinstance(raw, str) else raw
    if not isinstance(value, dict):
        return {}
    return {int(k): float(p) for k, p in value.items() if float(p) > 0}


class _Lengths:
    """Token-length distributions per client and 6 h window, read only where needed."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._files: dict[int, dict[str, dict[str, object]] | None] = {}
        self._cache: dict[tuple[int, int, str], dict[int, float]] = {}

    def _file(self, client: int) -> dict[str, dict[str, object]] | None:
        if client not in self._files:
            path = self._directory / f"chunk-{client}-dataset.json"
            try:
                self._files[client] = json.loads(path.read_text())
            except FileNotFoundError:
                self._files[client] = None
            except (OSError, ValueError) as e:
                raise TraceError(path, 0, "-", f"cannot read: {e}") from e
        return self._files[client]

    def get(self, client: int, t_s: float, kind: str) -> dict[int, float]:
        key = int(t_s // SERVEGEN_DATASET_WINDOW_S) * int(SERVEGEN_DATASET_WINDOW_S)
        cached = self._cache.get((client, key, kind))
        if cached is None:
            data = self._file(client)
            entry = data.get(str(key)) if data else None
            cached = _parse_lengths(entry.get(kind, "{}")) if isinstance(entry, dict) else {}
            self._cache[(client, key, kind)] = cached
        return cached


def _draw(rng: np.random.Generator, dist: dict[int, float], n: int, default: int) -> list[int]:
    if not dist:
        return [default] * n
    values = np.fromiter(dist.keys(), dtype=np.int64)
    probs = np.fromiter(dist.values(), dtype=np.float64)
    return [max(1, int(v)) for v in rng.choice(values, size=n, p=probs / probs.sum())]


def from_servegen(
    directory: Path, rate_scale: float, duration_s: float, start_s: float = 0.0, seed: int = 0
) -> Schedule:
    if not directory.is_dir():
        raise TraceError(directory, 0, "-", "not a directory of ServeGen chunk-N-trace.csv")
    clients = sorted(
        int(m.group(1)) for p in directory.iterdir() if (m := _CHUNK.match(p.name)) is not None
    )
    if not clients:
        raise TraceError(directory, 0, "-", "no chunk-N-trace.csv files")
    rng = np.random.default_rng(seed)
    lengths = _Lengths(directory)
    lo, hi = start_s, start_s + duration_s
    times: list[npt.NDArray[np.float64]] = []
    owners: list[npt.NDArray[np.int64]] = []
    for client in clients:
        for window in _read_windows(directory / f"chunk-{client}-trace.csv"):
            if window.rate <= 0 or window.start_s + SERVEGEN_WINDOW_S <= lo or window.start_s >= hi:
                continue
            arrivals = _window_arrivals(rng, window, window.rate * rate_scale, lo, hi)
            times.append(arrivals)
            owners.append(np.full(arrivals.size, client, dtype=np.int64))
    t = np.concatenate(times) if times else np.empty(0)
    who = np.concatenate(owners) if owners else np.empty(0, dtype=np.int64)
    order = np.argsort(t, kind="stable")
    t, who = t[order], who[order]
    prompts = np.empty(t.size, dtype=np.int64)
    outputs = np.empty(t.size, dtype=np.int64)
    # Draw lengths per (client, 6 h window) group, falling back to the pooled window.
    window_of = (t // SERVEGEN_DATASET_WINDOW_S).astype(np.int64)
    for w in np.unique(window_of):
        in_window = window_of == w
        pooled: dict[str, dict[int, float]] = {}
        for client in np.unique(who[in_window]):
            idx = np.nonzero(in_window & (who == client))[0]
            t0 = float(w) * SERVEGEN_DATASET_WINDOW_S
            for kind, out, default in (
                ("input_tokens", prompts, _DEFAULT_PROMPT),
                ("output_tokens", outputs, _DEFAULT_OUTPUT),
            ):
                dist = lengths.get(int(client), t0, kind)
                if not dist:
                    if kind not in pooled:
                        pooled[kind] = _pool(lengths, clients, t0, kind)
                    dist = pooled[kind]
                out[idx] = _draw(rng, dist, idx.size, default)
    return Schedule(f"servegen:{directory.name}", t - start_s, prompts, outputs, duration_s)


def _pool(lengths: _Lengths, clients: list[int], t_s: float, kind: str) -> dict[int, float]:
    pooled: dict[int, float] = {}
    for client in clients:
        for length, p in lengths.get(client, t_s, kind).items():
            pooled[length] = pooled.get(length, 0.0) + p
    return pooled
