"""A service's demand per second: what the fluid model eats, with no per-request objects.

Fourteen days of ServeGen's m-small at the rate that needs ~32 replicas is about 1.4 billion
requests, far too many to hold one by one. So a trace becomes per-second sums (requests, prompt
tokens, decode tokens) plus, per 600 s window, the distribution of prompt lengths: that is all
the fluid model needs to say which requests meet a TTFT target (docs in bench/autoscale/fluid.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

WINDOW_S = 600  # ServeGen's rate windows; the prompt-length tables use the same windows
# Prompt-length thresholds of the per-window CDF tables: 1 to 2M tokens, log-spaced.
PROMPT_GRID = np.unique(np.round(np.geomspace(1, 2_000_000, 97))).astype(np.float64)

F64 = npt.NDArray[np.float64]


class DemandError(ValueError):
    """Bad input (a missing folder, days out of range): the CLI prints it as one line."""


@dataclass(frozen=True)
class Demand:
    """Per second from the start of the run (index = second).

    arrivals: requests arriving in that second.
    prompt_tokens: their prompt tokens, summed.
    decode_requests: those that generate more than one token (the first comes from prefill).
    decode_tokens: their tokens after the first, summed.
    prompt_cdf: (windows, len(PROMPT_GRID)): P(prompt <= grid) of the requests of each window.
    """

    source: str
    arrivals: F64
    prompt_tokens: F64
    decode_requests: F64
    decode_tokens: F64
    prompt_cdf: F64
    rate_scale: float

    def __post_init__(self) -> None:
        n = self.arrivals.size
        for name in ("prompt_tokens", "decode_requests", "decode_tokens"):
            if getattr(self, name).size != n:
                raise ValueError(f"{name} has {getattr(self, name).size} seconds, not {n}")
        if self.prompt_cdf.shape != (self.windows, PROMPT_GRID.size):
            raise ValueError(f"prompt_cdf shape {self.prompt_cdf.shape}")

    @property
    def seconds(self) -> int:
        return int(self.arrivals.size)

    @property
    def windows(self) -> int:
        return -(-self.seconds // WINDOW_S)

    @property
    def requests(self) -> float:
        return float(self.arrivals.sum())

    def mean_prompt_tokens(self) -> float:
        return float(self.prompt_tokens.sum() / max(1.0, self.arrivals.sum()))

    def mean_decode_tokens(self) -> float:
        """Tokens after the first, per request (all requests, one-token ones included)."""
        return float(self.decode_tokens.sum() / max(1.0, self.arrivals.sum()))

    def mean_decode_tokens_per_decoder(self) -> float:
        return float(self.decode_tokens.sum() / max(1.0, self.decode_requests.sum()))

    def peak_minute(self) -> int:
        """The start second of the 60 s with the most prompt and decode work."""
        work = self.prompt_tokens + self.decode_tokens
        per_min = np.add.reduceat(work, np.arange(0, self.seconds, 60))
        return int(np.argmax(per_min)) * 60

    def slice(self, start_s: int, stop_s: int) -> Demand:
        """Seconds [start_s, stop_s), start_s a multiple of WINDOW_S."""
        if start_s % WINDOW_S:
            raise ValueError("start_s must be a multiple of WINDOW_S")
        w0, w1 = start_s // WINDOW_S, -(-stop_s // WINDOW_S)
        return Demand(
            self.source,
            self.arrivals[start_s:stop_s],
            self.prompt_tokens[start_s:stop_s],
            self.decode_requests[start_s:stop_s],
            self.decode_tokens[start_s:stop_s],
            self.prompt_cdf[w0:w1],
            self.rate_scale,
        )


def cdf_on_grid(lengths: F64, probs: F64) -> F64:
    """P(length <= g) for each g of PROMPT_GRID, from a discrete distribution."""
    order = np.argsort(lengths)
    cum = np.cumsum(probs[order])
    total = cum[-1] if cum.size else 0.0
    if total <= 0:
        return np.ones(PROMPT_GRID.size)
    idx = np.searchsorted(lengths[order], PROMPT_GRID, side="right")
    out = np.where(idx > 0, cum[np.maximum(idx - 1, 0)] / total, 0.0)
    return np.asarray(out, dtype=np.float64)


def check_days(days: float | None, start_day: int, total_days: float, path: Path) -> float:
    """The number of days to run; a DemandError naming the range otherwise."""
    if start_day < 0 or start_day >= total_days:
        raise DemandError(
            f"--start-day {start_day} out of range: {path} has {total_days:g} day(s) (0-based)"
        )
    left = total_days - start_day
    if days is None:
        return left
    if not 0 < days <= left + 1e-9:
        raise DemandError(
            f"--days {days:g} out of range: {path} has {left:g} day(s) from day {start_day}"
        )
    return days
