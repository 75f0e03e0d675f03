"""--plot FILE.png: demand, each policy's replicas and SLO attainment over time (matplotlib).

matplotlib is in the dev extra; without it the bench runs and says the plot was skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.autoscale.demand import F64
from bench.autoscale.run import PLOT_BIN_S, RunResult


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


MAX_POINTS = 1500


def _rebin(x: F64, k: int, how: str = "mean") -> F64:
    n = -(-x.size // k) * k
    padded = np.concatenate([x, np.full(n - x.size, np.nan)]).reshape(-1, k)
    return np.nanmean(padded, axis=1) if how == "mean" else np.nansum(padded, axis=1)


def plot(path: Path, demand_rps: F64, results: Sequence[RunResult], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = max(1, -(-demand_rps.size // MAX_POINTS))  # bins of PLOT_BIN_S x k seconds
    hours = np.arange(-(-demand_rps.size // k)) * k * PLOT_BIN_S / 3600.0
    fig, axes = plt.subplots(3, 1, figsize=(13, 9), sharex=True)
    axes[0].plot(hours, _rebin(demand_rps, k), color="black", lw=0.6)
    axes[0].set_ylabel("requests/s")
    axes[0].set_title(title)
    for r in results:
        axes[1].plot(hours, _rebin(r.replicas_series, k), lw=0.8, alpha=0.8, label=r.policy)
        good, arrived = _rebin(r.good_series, k, "sum"), _rebin(r.arrived_series, k, "sum")
        pct = np.where(arrived > 0, 100.0 * good / np.maximum(arrived, 1e-9), 100.0)
        axes[2].plot(hours, np.clip(pct, 90.0, 100.0), lw=0.7, alpha=0.8, label=r.policy)
    axes[1].set_ylabel("replicas (GPUs held)")
    axes[1].legend(loc="upper left", ncols=5, fontsize=8)
    minutes = k * PLOT_BIN_S // 60
    axes[2].set_ylabel(f"within SLO, % per {minutes} min\n(clipped at 90)")
    axes[2].axhline(99.9, color="grey", lw=0.5, ls="--")
    axes[2].set_xlabel("hours")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
