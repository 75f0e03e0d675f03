"""Small demands for the autoscale bench's tests: synthetic (no data needed) and from the traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.autoscale import azure
from bench.autoscale.demand import Demand

DATA = next(
    (p / "shared" / "data" for p in Path(__file__).resolve().parents if (p / "shared").is_dir()),
    Path("shared") / "data",
)
AZURE_CONV = DATA / "azure-llm-2023" / "AzureLLMInferenceTrace_conv.csv"
M_SMALL = DATA / "servegen" / "m-small"


def requests(
    rate_per_s: list[tuple[int, float]], prompt: int, output: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Poisson arrivals: [(seconds, rate)] segments back to back, fixed lengths."""
    rng = np.random.default_rng(seed)
    times = []
    t0 = 0
    for seconds, rate in rate_per_s:
        n = rng.poisson(rate * seconds)
        times.append(t0 + np.sort(rng.uniform(0, seconds, n)))
        t0 += seconds
    t = np.concatenate(times)
    p = np.full(t.size, float(prompt))
    o = np.full(t.size, float(output))
    return t, p, o, t0


def synthetic(rate_per_s: list[tuple[int, float]], prompt: int = 400, output: int = 100) -> Demand:
    t, p, o, seconds = requests(rate_per_s, prompt, output)
    return azure.from_requests(t, p, o, seconds, "synthetic")
