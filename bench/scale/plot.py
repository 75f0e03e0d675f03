"""Plot `aiwo-bench scale -o json` results against N: report lag, CPU, memory.

    python -m bench.scale.plot results/scale-1000.json results/scale-3000.json ... \
        -o docs/img/scale.png
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def _series(results: list[dict[str, Any]]) -> dict[str, list[float]]:
    rows = sorted(results, key=lambda r: r["settings"]["nodes"])
    steady = [r["steady"] for r in rows]
    return {
        "nodes": [r["settings"]["nodes"] for r in rows],
        "lag_p99_s": [s["report_lag_s"]["p99"] or 0.0 for s in steady],
        "lag_median_s": [s["report_lag_s"]["median"] or 0.0 for s in steady],
        "controller_cpu": [s["controller_cpu_s_per_s"] for s in steady],
        "swarm_cpu": [s["swarm"]["cpu_s_per_s"] for s in steady],
        "etcd_cpu": [s["etcd_cpu_s_per_s"] for s in steady],
        "controller_rss_mib": [s["controller_rss_mib"] for s in steady],
        "swarm_rss_mib": [s["swarm"]["rss_mib"] for s in steady],
        "accepted_ratio": [s["reports_per_s"] / s["reports_expected_per_s"] for s in steady],
    }


@click.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
def main(files: tuple[Path, ...], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = _series([json.loads(f.read_text()) for f in files])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    lag, cpu, mem = axes
    lag.plot(s["nodes"], s["lag_p99_s"], "o-", label="p99")
    lag.plot(s["nodes"], s["lag_median_s"], "o--", label="median")
    lag.axhline(2.0, color="grey", lw=0.8, ls=":", label="goal (2 s)")
    lag.set(title="report lag (sample -> ListGpus)", xlabel="nodes (8 GPUs, 1 Hz)", ylabel="s")
    cpu.plot(s["nodes"], s["controller_cpu"], "o-", label="controller")
    cpu.plot(s["nodes"], s["swarm_cpu"], "o--", label="swarm (load generator)")
    cpu.plot(s["nodes"], s["etcd_cpu"], "o:", label="etcd")
    cpu.axhline(1.0, color="grey", lw=0.8, ls=":", label="one core")
    cpu.set(title="CPU", xlabel="nodes", ylabel="CPU s per s")
    mem.plot(s["nodes"], s["controller_rss_mib"], "o-", label="controller RSS")
    mem.plot(s["nodes"], s["swarm_rss_mib"], "o--", label="swarm RSS (all workers)")
    mem.set(title="memory", xlabel="nodes", ylabel="MiB")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("aiwo-bench scale: one controller, 2-core VM shared with other work")
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    click.echo(f"wrote {output}")


if __name__ == "__main__":
    main()
