"""`aiwo-bench scale`: a swarm of simulated agents against a real controller and etcd.

    aiwo-bench scale --nodes 1000 --gpus-per-node 8 --period-s 1 --seconds 30 \
        --workloads 2000 [--failover] [--bad-nodes 30] -o json

Each simulated node speaks the agent's protocol over its own gRPC connection (Register,
then one Connect stream: hello, telemetry every period, acks for commands); many nodes share
one worker process, over a few processes. The controller and etcd are real processes, started
as `aiwo up` starts them (sdk/cli/local_cluster.py). Figures come from the controller's side
(its counters, /proc for its CPU and memory, ListGpus for lag, etcd's /metrics) and from the
swarm's (its CPU, so a reader can tell the controller's limit from the generator's).
"""

from __future__ import annotations

import json
import math

import click

from bench.options import leader_lease_option, output_option
from bench.scale.run import Settings, run


@click.command("scale")
@click.option("--nodes", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--gpus-per-node", type=click.IntRange(min=1, max=64), default=8, show_default=True)
@click.option(
    "--period-s",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Telemetry period of every node.",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Steady-state measurement window.",
)
@click.option(
    "--workloads",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Workloads registered (a quarter GPU each) before the steady state.",
)
@click.option("--failover", is_flag=True, help="Run two controllers; kill -9 the leader.")
@click.option(
    "--bad-nodes",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Extra nodes that send garbage, flood, or reconnect in a tight loop.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    help="Swarm processes (0: one per 2,500 nodes, at least 2).",
)
@click.option(
    "--placement-workloads",
    type=click.IntRange(min=0),
    default=0,
    help="Placed workloads in the timed in-process optimizer pass (0: as registered).",
)
@leader_lease_option
@output_option
def scale(
    nodes: int,
    gpus_per_node: int,
    period_s: float,
    seconds: float,
    workloads: int,
    failover: bool,
    bad_nodes: int,
    workers: int,
    placement_workloads: int,
    leader_lease_s: int,
    output: str,
) -> None:
    """Ingestion, lag, memory, placement and failover of one controller at fleet size."""
    workers = workers or max(2, math.ceil((nodes + bad_nodes) / 2500))
    settings = Settings(nodes, gpus_per_node, period_s, seconds, workloads, failover,
                        bad_nodes, workers, placement_workloads,
                        leader_lease_s=leader_lease_s)  # fmt: skip
    result = run(settings)
    if output == "json":
        click.echo(json.dumps(result, indent=2))
        return
    steady = result["steady"]
    click.echo(f"{nodes} nodes x {gpus_per_node} GPUs every {period_s:g} s, "
               f"{workloads} workloads, load {' '.join(result['loadavg'])}")  # fmt: skip
    rows = [
        ("nodes Ready", f"{steady['nodes_ready']} of {nodes}"),
        ("reports/s accepted", f"{steady['reports_per_s']} (sent {steady['reports_sent_per_s']})"),
        ("report lag p99", f"{steady['report_lag_s']['p99']} s"),
        ("controller CPU", f"{steady['controller_cpu_s_per_s']} s/s"),
        ("controller RSS", f"{steady['controller_rss_mib']} MiB"),
        ("swarm CPU", f"{steady['swarm']['cpu_s_per_s']} s/s"),
        ("etcd writes/s", str(steady["etcd_writes_per_s"])),
        ("etcd db", f"{steady['etcd_db_mib']} MiB"),
        ("placement pass p99", f"{result['placement_ms']['p99']} ms"),
        ("register -> placed p99", f"{result['register_to_placed_ms']['p99']} ms"),
    ]
    if "failover" in result:
        f = result["failover"]
        rows += [
            ("failover: all Ready", f"{f['failover_all_ready_s']} s"),
            ("failover: evicted", str(f["failover_evicted"])),
            ("failover: NotReady", str(f["nodes_not_ready"])),
        ]
    for name, value in rows:
        click.echo(f"  {name:<26} {value}")
