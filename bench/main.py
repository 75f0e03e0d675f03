"""aiwo-bench: benchmarks that run the product's own optimizer code.

aiwo-bench placement --policy bestfit,fgd,default --seeds 42-51 --tune 1.3 -o json
aiwo-bench placement-latency --runs 500
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console

from bench.options import output_option, parse_names, parse_seeds, progress_bar, workers_option
from bench.report import aggregate, table
from bench.runner import run_jobs
from bench.sim import ARRIVED_POINTS, SeedResult
from bench.trace import TraceError
from controlplane.optimizer.policy import POLICY_NAMES

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "alibaba-gpu-v2023"
DEFAULT_NODES = DATA / "openb_node_list_gpu_node.csv"
DEFAULT_PODS = DATA / "openb_pod_list_default.csv"


@click.group()
def main() -> None:
    """Benchmarks of aiwo's optimizer on public traces."""


@main.command()
@click.option(
    "--nodes",
    "nodes_csv",
    type=click.Path(path_type=Path),
    default=DEFAULT_NODES,
    show_default=True,
    help="node list CSV (sn,cpu_milli,memory_mib,gpu,model)",
)
@click.option(
    "--pods",
    "pods_csv",
    type=click.Path(path_type=Path),
    default=DEFAULT_PODS,
    show_default=True,
    help="pod list CSV (name,cpu_milli,memory_mib,num_gpu,...)",
)
@click.option(
    "--policy",
    "policy_text",
    default="default",
    show_default=True,
    help=f"comma-separated: {', '.join(POLICY_NAMES)}",
)
@click.option("--seeds", "seeds_text", default="42-51", show_default=True)
@click.option(
    "--tune",
    type=click.FloatRange(min=0.1, max=10.0),
    default=1.3,
    show_default=True,
    help="total GPU request arriving, as a multiple of cluster GPU capacity",
)
@output_option
@workers_option("(policy, seed)")
def placement(
    nodes_csv: Path,
    pods_csv: Path,
    policy_text: str,
    seeds_text: str,
    tune: float,
    output: str,
    workers: int,
) -> None:
    """Unallocated GPU % at 90–130 % of capacity arrived, the FGD paper's protocol."""
    policies = parse_names(policy_text, POLICY_NAMES)
    seeds = parse_seeds(seeds_text)
    err = Console(stderr=True)
    started = time.perf_counter()
    try:
        if output == "json":
            results = run_jobs(nodes_csv, pods_csv, policies, seeds, tune, workers)
        else:
            results = _with_progress(err, nodes_csv, pods_csv, policies, seeds, tune, workers)
    except TraceError as e:
        raise click.ClickException(str(e)) from None
    elapsed = time.perf_counter() - started
    summary = aggregate(results, ARRIVED_POINTS)
    if output == "json":
        click.echo(json.dumps(summary, indent=2))
        return
    title = (
        f"{pods_csv.name}: {len(seeds)} seeds, tune {tune}, "
        f"{elapsed:.1f} s with {workers} worker(s)"
    )
    Console().print(table(summary, ARRIVED_POINTS, title))


def _with_progress(
    console: Console,
    nodes_csv: Path,
    pods_csv: Path,
    policies: list[str],
    seeds: list[int],
    tune: float,
    workers: int,
) -> list[SeedResult]:
    with progress_bar(console) as progress:
        tasks = {p: progress.add_task(p, total=len(seeds)) for p in policies}
        return run_jobs(
            nodes_csv,
            pods_csv,
            policies,
            seeds,
            tune,
            workers,
            on_result=lambda r: progress.advance(tasks[r.policy]),
        )


from bench.latency import placement_latency  # noqa: E402  (registers on `main`)

main.add_command(placement_latency)

from bench.slo.cli import slo  # noqa: E402  (registers on `main`)

main.add_command(slo)

from bench.controlplane import controlplane  # noqa: E402

main.add_command(controlplane)

from bench.failover import failover  # noqa: E402  (registers on `main`)

main.add_command(failover)

from bench.load.cli import load  # noqa: E402  (registers on `main`)

main.add_command(load)

from bench.load.gateway_bench import gateway  # noqa: E402  (registers on `main`)

main.add_command(gateway)

from bench.autoscale.cli import autoscale  # noqa: E402  (registers on `main`)

main.add_command(autoscale)
from bench.scale.cli import scale  # noqa: E402  (registers on `main`)

main.add_command(scale)

if __name__ == "__main__":
    sys.exit(main())
