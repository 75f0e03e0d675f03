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


def plot(path: Path, demand_rps: F64, results: Sequence[RunResult], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = np.arange(demand_rps.size) * PLOT_BIN_S / 3600.0
    fig, axes = plt.subplots(3, 1, figsize=(13, 9), sharex=True)
    axes[0].plot(hours, demand_rps, color="black", lw=0.6)
    axes[0].set_ylabel("requests/s")
    axes[0].set_title(title)
    for r in results:
        axes[1].plot(hours, r.replicas_series, lw=0.8, label=r.policy)
        axes[2].plot(hours, np.clip(r.attainment_series, 90.0, 100.0), lw=0.6, label=r.policy)
    axes[1].set_ylabel("replicas (GPUs held)")
    axes[1].legend(loc="upper left", ncols=5, fontsize=8)
    axes[2].set_ylabel("within SLO, % per minute\n(clipped at 90)")
    axes[2].axhline(99.9, color="grey", lw=0.5, ls="--")
    axes[2].set_xlabel("hours")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
