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

from sdk import plural, read_cluster_file
from sdk import state_dir as default_state_dir
from sdk.cli._app import Seconds
from sdk.cli.cluster_lock import ClusterLocked, holder_pid
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


def _known_gpu_model(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """The simulated agents would start and then die on an unknown model: refuse it here,
    with the accepted names (gpumodel's table: the agents' sim backend reads the same)."""
    from gpumodel.models import UnknownGpuModelError, get_model

    try:
        return get_model(value).name
    except UnknownGpuModelError as exc:
        raise click.BadParameter(str(exc)) from None


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
@click.option(
    "--gpu-model",
    default="H100",
    show_default=True,
    callback=_known_gpu_model,
    help="Simulated GPU model (H100, A100-80GB, L4, ...: a wrong name lists them all).",
)
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
@click.option(
    "--demo",
    is_flag=True,
    help="Also start the example workloads and a live view, from an empty cluster "
    "(the state dir's etcd data and agent state are wiped first; logs are kept).",
)
@click.option(
    "--detach",
    is_flag=True,
    help="Run in the background: return once the cluster is up; `aiwo down` stops it.",
)
@click.option(
    "--secure",
    is_flag=True,
    help="Mutual TLS and tokens: certificates and an admin token in STATE_DIR/secure, "
    "recorded in cluster.json for the CLI and the SDK. Without it: plaintext, no tokens.",
)
@click.option(
    "--duration",
    type=Seconds(min=1),
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
    detach: bool,
    secure: bool,
    duration: float | None,
) -> None:
    """Start a local etcd member, the controller and simulated node agents.

    Ctrl-C or SIGTERM stops everything cleanly.
    """
    console = Console(stderr=True)
    directory = (state_dir or default_state_dir()).expanduser().resolve()
    if detach:
        _detach(directory)
        return
    credentials = None
    if secure:
        from sdk.cli.secure import LocalCredentials

        holder = holder_pid(directory)
        if holder is not None:  # before certificates are written into a live cluster's dir
            click.echo(f"aiwo up: {ClusterLocked(directory, holder)}", err=True)
            raise SystemExit(1)
        try:
            credentials = LocalCredentials.prepare(
                directory, [f"node-{i}" for i in range(1, nodes + 1)]
            )
        except OSError as exc:
            click.echo(f"aiwo up: cannot write credentials in {directory}: {exc}", err=True)
            raise SystemExit(1) from None
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
        fresh_state=demo,  # the demo starts from a known state, not the last run's
    )
    cluster = LocalCluster(spec)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    failed = False
    viewer: subprocess.Popen[bytes] | None = None
    try:
        with console.status("starting etcd, the controller and the agents…"):
            cluster.start()
        _print_reach(console, cluster, directory)
        if demo:
            _wait_for_nodes(cluster, spec.nodes, timeout_s=15.0)
            _start_demo(cluster, duration)
            console.print(_start_demo_service(cluster, duration))
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
            if viewer is not None and viewer.poll() == 0 and duration is None:
                raise _Stop()  # `q` in the demo's live view ends the demo
            time.sleep(0.25)
        if viewer is not None:
            _wait_quietly(viewer, 3.0)
        _print_summary(console, cluster)
    except (KeyboardInterrupt, _Stop):
        console.print("\nstopping…")
    except ClusterError as exc:
        failed = True
        # click.echo, not rich: one line however long (rich wraps at the terminal's width).
        click.echo(f"aiwo up: {exc}", err=True)
        raise SystemExit(1) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        if viewer is not None and viewer.poll() is None:
            viewer.terminate()
            _wait_quietly(viewer, 2.0)
        cluster.stop()
        # After an error its one line is the last word; with nothing started, say nothing.
        if cluster.procs and not failed:
            console.print(f"stopped {plural(len(cluster.procs), 'process', 'processes')}")


def _print_reach(console: Console, cluster: LocalCluster, directory: Path) -> None:
    spec = cluster.spec
    console.print(
        f"[bold green]aiwo is up[/bold green]: {plural(spec.nodes, 'node')} × "
        f"{plural(spec.gpus_per_node, f'simulated {spec.gpu_model} GPU')}\n"
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


def _start_demo_service(cluster: LocalCluster, duration: float | None) -> str:
    """The autoscaled example service and a trace replayed through the gateway."""
    from sdk.cli.demo_serving import find_demo_trace, start_demo_service

    credentials = cluster.spec.credentials
    config = credentials.admin_config() if credentials is not None else None
    return start_demo_service(cluster, duration, find_demo_trace(), config)


def _start_viewer(cluster: LocalCluster, duration: float | None) -> subprocess.Popen[bytes]:
    argv = [*program("aiwo", "sdk.cli.main"), "--controller", cluster.controller_address, "top"]
    if duration is not None:
        argv += ["--duration", str(duration)]
    env = {**os.environ, **_client_env(cluster, "admin")}
    # The terminal's stdin: `q` in the live view quits it (and with it the demo).
    return subprocess.Popen(argv, env=env)


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
        f"summary: {plural(len(nodes), 'node')} ({ready} ready), {plural(len(gpus), 'GPU')}, "
        f"{plural(len(workloads), 'workload')} ({len(placed)} placed)"
    )
    for workload in workloads:
        where = f"{workload.node} GPUs {list(workload.gpus)}" if workload.node else "-"
        console.print(f"  {workload.namespace}/{workload.name}: {workload.phase} on {where}")


def _detach(directory: Path) -> None:
    """Start this same `aiwo up` (less --detach) in a session of its own, its output in
    STATE_DIR/logs/up.log; return once it has written cluster.json, or fail with its
    last line if it exits first."""
    holder = holder_pid(directory)
    if holder is not None:
        click.echo(f"aiwo up: {ClusterLocked(directory, holder if holder > 0 else None)}", err=True)
        raise SystemExit(1)
    try:
        (directory / "logs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        click.echo(
            f"aiwo up: cannot use {directory} as the state directory: {exc.strerror}", err=True
        )
        raise SystemExit(1) from None
    log_path = directory / "logs" / "up.log"
    argv = [a for a in sys.argv[1:] if a != "--detach"]
    if "--state-dir" not in argv and not any(a.startswith("--state-dir=") for a in argv):
        argv += ["--state-dir", str(directory)]  # the child must not guess it differently
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            [*program("aiwo", "sdk.cli.main"), *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in this shell is not meant for it
        )
    deadline = time.monotonic() + 120.0
    while time.monotonic() < deadline:
        if child.poll() is not None:
            lines = log_path.read_text(errors="replace").strip().splitlines()
            click.echo(lines[-1] if lines else f"aiwo up: exited with code {child.returncode}",
                       err=True)  # fmt: skip
            raise SystemExit(1)
        cluster = read_cluster_file(directory)
        if cluster is not None and cluster.get("pid") == child.pid:
            click.echo(
                f"aiwo is up in the background (pid {child.pid}): controller "
                f"{', '.join(cluster.get('controllers') or [cluster['controller']])}; "
                f"`aiwo down` stops it; output in {log_path}"
            )
            return
        time.sleep(0.1)
    child.terminate()
    click.echo(f"aiwo up: the cluster did not start within 120s; see {log_path}", err=True)
    raise SystemExit(1)
