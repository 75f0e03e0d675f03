"""Reading an Azure LLM inference trace: arrival times and token counts per request.

Columns TIMESTAMP,ContextTokens,GeneratedTokens (Azure/AzurePublicDataset, the Splitwise
trace). A malformed row names the file, the line (the header is line 1) and the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.trace import TraceError, read_rows

COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
# Bounds on one request [E]: far above any model's context window, so only garbage fails.
MAX_TOKENS = 10_000_000


@dataclass(frozen=True)
class LlmTrace:
    """Requests sorted by arrival; arrival_s counts from the first request."""

    path: Path
    arrival_s: npt.NDArray[np.float64]
    prompt_tokens: npt.NDArray[np.int64]
    output_tokens: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.arrival_s.size)

    @property
    def span_s(self) -> float:
        return float(self.arrival_s[-1]) if len(self) else 0.0


def _timestamp(path: Path, line: int, text: str) -> float:
    base, _, frac = text.strip().partition(".")
    try:
        seconds = datetime.strptime(base, "%Y-%m-%d %H:%M:%S").timestamp()
        if frac and not frac.isdigit():
            raise ValueError
        return seconds + (float(f"0.{frac}") if frac else 0.0)
    except ValueError:
        raise TraceError(
            path, line, "TIMESTAMP", f"expected YYYY-MM-DD HH:MM:SS[.fraction], got {text!r}"
        ) from None


def _tokens(path: Path, line: int, column: str, text: str | None, least: int) -> int:
    raw = (text or "").strip()
    try:
        value = int(raw)
    except ValueError:
        raise TraceError(path, line, column, f"not an integer: {raw!r}") from None
    if not least <= value <= MAX_TOKENS:
        raise TraceError(path, line, column, f"expected {least}..{MAX_TOKENS}, got {value}")
    return value


def read_llm_trace(path: Path) -> LlmTrace:
    times: list[float] = []
    prompts: list[int] = []
    outputs: list[int] = []
    for line, row in read_rows(path, COLUMNS):
        times.append(_timestamp(path, line, row.get("TIMESTAMP") or ""))
        prompts.append(_tokens(path, line, "ContextTokens", row.get("ContextTokens"), 0))
        # At least one generated token: a request that generates nothing has no latency.
        outputs.append(_tokens(path, line, "GeneratedTokens", row.get("GeneratedTokens"), 1))
    if not times:
        raise TraceError(path, 2, "TIMESTAMP", "no requests")
    t = np.asarray(times, dtype=np.float64)
    order = np.argsort(t, kind="stable")  # tolerate rows out of order; keep ties in file order
    t = t[order] - t[order][0]
    return LlmTrace(
        path,
        t,
        np.asarray(prompts, dtype=np.int64)[order],
        np.asarray(outputs, dtype=np.int64)[order],
    )


def reshape(trace: LlmTrace, rate_scale: float = 1.0, shift_s: float = 0.0) -> LlmTrace:
    """The same requests as another workload, to test a policy on traffic it was not tuned on.

    rate_scale: arrivals come this many times faster (2.0 = twice the load, in half the time).
    shift_s: the trace starts this far in and wraps around, so its busy and quiet periods fall
    elsewhere in the run (the conversation trace's busiest half hour moves to the start).
    """
    if rate_scale <= 0.0:
        raise ValueError(f"rate_scale {rate_scale} must be > 0")
    t = trace.arrival_s
    if shift_s and len(trace) > 1:
        period = trace.span_s + float(np.median(np.diff(t)))  # the wrap keeps the mean gap
        t = (t - shift_s) % period
    t = t / rate_scale
    order = np.argsort(t, kind="stable")
    return LlmTrace(
        trace.path,
        t[order] - t[order][0],
        trace.prompt_tokens[order],
        trace.output_tokens[order],
    )
