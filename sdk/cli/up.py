"""`aiwo up`: a local cluster in one command — etcd, the controller, simulated nodes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import click
from rich.console import Console

from sdk._target import state_dir as default_state_dir
from sdk.cli.local_cluster import ClusterError, ClusterSpec, LocalCluster, program

# The demo: two latency-critical inference services and two batch training jobs.
DEMO_WORKLOADS: tuple[tuple[str, str], ...] = (
    ("chat", "sdk.examples.inference_service"),
    ("search", "sdk.examples.inference_service"),
    ("train-llm", "sdk.examples.training_job"),
    ("train-vision", "sdk.examples.training_job"),
)


class _Stop(Exception):
    pass


@click.command("up")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="AIWO_STATE_DIR",
    help="Where etcd data, logs and cluster.json live.",
)
@click.option(
    "--nodes",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Simulated node agents to start.",
)
@click.option("--gpus-per-node", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--gpu-model", default="H100", show_default=True, help="Simulated GPU model.")
@click.option("--policy", default="default", show_default=True, help="Placement policy.")
@click.option(
    "--controllers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 9),
    help="Controller replicas (one leads; the others serve reads, forward writes).",
)
@click.option(
    "--etcd-members",
    default=1,
    show_default=True,
    type=click.IntRange(1, 9),
    help="etcd members, as one cluster on loopback (3 or 5 tolerate failures).",
)
@click.option("--demo", is_flag=True, help="Also start the example workloads and a live view.")
@click.option(
    "--secure",
    is_flag=True,
    help="Mutual TLS and tokens: certificates and an admin token in STATE_DIR/secure, "
    "recorded in cluster.json for the CLI and the SDK. Without it: plaintext, no tokens.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=None,
    help="Stop everything after this many seconds and print a summary.",
)
def up(
    state_dir: Path | None,
    nodes: int,
    gpus_per_node: int,
    gpu_model: str,
    policy: str,
    controllers: int,
    etcd_members: int,
    demo: bool,
    secure: bool,
    duration: float | None,
) -> None:
    """Start a local etcd member, the controller and simulated node agents.

    Ctrl-C or SIGTERM stops everything cleanly.
    """
    console = Console(stderr=True)
    directory = (state_dir or default_state_dir()).expanduser().resolve()
    credentials = None
    if secure:
        from sdk.cli.secure import LocalCredentials

        credentials = LocalCredentials.prepare(
            directory, [f"node-{i}" for i in range(1, nodes + 1)]
        )
    spec = ClusterSpec(
        directory,
        nodes,
        gpus_per_node,
        gpu_model,
        policy=policy,
        controllers=controllers,
        etcd_members=etcd_members,
        credentials=credentials,
        gateway=True,
    )
    cluster = LocalCluster(spec)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    viewer: subprocess.Popen[bytes] | None = None
    try:
        with console.status("starting etcd, the controller and the agents…"):
            cluster.start()
        _print_reach(console, cluster, directory)
        if demo:
            _wait_for_nodes(cluster, spec.nodes, timeout_s=15.0)
            _start_demo(cluster, duration)
            viewer = _start_viewer(cluster, duration)
        reported: set[str] = set()
        while duration is None or time.monotonic() - started < duration:
            dead = cluster.dead()
            if dead and cluster.fatal(dead):
                names = ", ".join(f"{p.name} (see {p.log})" for p in dead)
                raise ClusterError(f"stopped because a process exited: {names}")
            for proc in dead:
                if proc.name not in reported:
                    reported.add(proc.name)
                    console.print(f"[yellow]{proc.name} exited; its replicas carry on[/yellow]")
            time.sleep(0.25)
        if viewer is not None:
            _wait_quietly(viewer, 3.0)
        _print_summary(console, cluster)
    except (KeyboardInterrupt, _Stop):
        console.print("\nstopping…")
    except ClusterError as exc:
        console.print(f"[red]aiwo up: {exc}[/red]")
        raise SystemExit(1) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        if viewer is not None and viewer.poll() is None:
            viewer.terminate()
            _wait_quietly(viewer, 2.0)
        cluster.stop()
        console.print(f"stopped {len(cluster.procs)} processes")


def _print_reach(console: Console, cluster: LocalCluster, directory: Path) -> None:
    spec = cluster.spec
    console.print(
        f"[bold green]aiwo is up[/bold green]: {spec.nodes} nodes × {spec.gpus_per_node} "
        f"simulated {spec.gpu_model} GPUs\n"
        f"  controller  {', '.join(cluster.controller_addresses)}\n"
        f"  metrics     {', '.join(f'http://{m}/metrics' for m in cluster.metrics_addresses)}\n"
        f"  etcd        {cluster.etcd_endpoint}\n"
        f"  gateway     http://{cluster.gateway_address}/s/NAMESPACE/NAME/PATH\n"
        f"  state       {directory} (logs in {cluster.log_dir})\n"
        + _security_line(cluster)
        + "In another shell: [bold]aiwo nodes[/bold], [bold]aiwo gpus[/bold], "
        "[bold]aiwo workloads[/bold], [bold]aiwo top[/bold]  (they read "
        f"{directory / 'cluster.json'}; set AIWO_STATE_DIR if you used --state-dir)"
    )


def _security_line(cluster: LocalCluster) -> str:
    credentials = cluster.spec.credentials
    if credentials is None:
        return (
            "  security    [yellow]none: plaintext, no tokens (--secure turns both on)[/yellow]\n"
        )
    return (
        f"  security    mutual TLS, tokens; certificates in {credentials.pki.directory}, "
        f"admin token in {credentials.admin_token_file}\n"
    )


def _client_env(cluster: LocalCluster, role: str) -> dict[str, str]:
    """Credentials for a child using the SDK: a workload token for the demo's workloads,
    the admin token for the live view."""
    credentials = cluster.spec.credentials
    if credentials is None:
        return {}
    token = credentials.workload_token_file if role == "workload" else credentials.admin_token_file
    return credentials.client_env(token)


def _wait_for_nodes(cluster: LocalCluster, count: int, timeout_s: float) -> None:
    """The demo's placements should see the whole cluster, not the first node to register."""
    from sdk import AiwoError, NodeState, SyncAdminClient

    credentials = cluster.spec.credentials
    config = credentials.admin_config() if credentials is not None else None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            admin = SyncAdminClient.connect(cluster.controller_address, config=config)
            try:
                nodes = admin.list_nodes()
            finally:
                admin.close()
            if sum(1 for n in nodes if n.state == NodeState.READY) >= count:
                return
        except AiwoError:
            pass
        time.sleep(0.2)


def _start_demo(cluster: LocalCluster, duration: float | None) -> None:
    for name, module in DEMO_WORKLOADS:
        argv = [
            sys.executable,
            "-m",
            module,
            "--controller",
            cluster.controller_address,
            "--name",
            name,
        ]
        if duration is not None:
            argv += ["--duration", str(duration + 5)]
        cluster.start_workload(name, argv, _client_env(cluster, "workload"))
    cluster.write_cluster_file()


def _start_viewer(cluster: LocalCluster, duration: float | None) -> subprocess.Popen[bytes]:
    argv = [*program("aiwo", "sdk.cli.main"), "--controller", cluster.controller_address, "top"]
    if duration is not None:
        argv += ["--duration", str(duration)]
    env = {**os.environ, **_client_env(cluster, "admin")}
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=env)


def _wait_quietly(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _print_summary(console: Console, cluster: LocalCluster) -> None:
    from sdk import AiwoError, NodeState, SyncAdminClient

    try:
        credentials = cluster.spec.credentials
        config = credentials.admin_config() if credentials is not None else None
        admin = SyncAdminClient.connect(cluster.controller_address, config=config)
        try:
            nodes = admin.list_nodes()
            gpus = admin.list_gpus()
            workloads = admin.list_workloads()
        finally:
            admin.close()
    except AiwoError as exc:
        console.print(f"summary unavailable: {exc}")
        return
    ready = sum(1 for n in nodes if n.state == NodeState.READY)
    placed = [w for w in workloads if w.node]
    console.print(
        f"summary: {len(nodes)} nodes ({ready} ready), {len(gpus)} GPUs, "
        f"{len(workloads)} workloads ({len(placed)} placed)"
    )
    for workload in workloads:
        where = f"{workload.node} GPUs {list(workload.gpus)}" if workload.node else "-"
        console.print(f"  {workload.namespace}/{workload.name}: {workload.phase} on {where}")
