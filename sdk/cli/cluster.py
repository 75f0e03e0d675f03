"""`aiwo cluster status`: every process of the local cluster `aiwo up` started, and its health."""

from __future__ import annotations

import json
import os
import ssl
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import click
from rich.table import Table

from sdk import AiwoError, ClientConfig, NodeState, SyncAdminClient, read_cluster_file
from sdk import state_dir as default_state_dir
from sdk.cli._app import CliError, output_option
from sdk.cli._render import console


@dataclass(frozen=True)
class ProcessStatus:
    role: str  # "etcd", "controller", "agent" or "workload"
    name: str
    pid: int
    address: str
    healthy: bool
    leader: bool
    detail: str = ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True


def _etcd_health(address: str, credentials: dict[str, str] | None = None) -> tuple[bool, str]:
    """etcd's /health; over TLS on a secured cluster, with the CLI's certificate from
    etcd's own CA (the cluster CA's is refused there)."""
    scheme, context = "http", None
    if credentials:
        scheme = "https"
        context = ssl.create_default_context(cafile=credentials.get("etcd_ca", credentials["ca"]))
        context.load_cert_chain(
            credentials.get("etcd_cert", credentials["cert"]),
            credentials.get("etcd_key", credentials["key"]),
        )
    try:
        with urllib.request.urlopen(
            f"{scheme}://{address}/health", timeout=2, context=context
        ) as reply:
            body = json.loads(reply.read())
    except (OSError, ValueError) as exc:
        return False, str(exc)
    healthy = str(body.get("health")) == "true"
    return healthy, "" if healthy else str(body.get("reason", "unhealthy"))


def _controller_health(address: str) -> tuple[bool, bool, str]:
    config = ClientConfig(connect_timeout_s=2, rpc_timeout_s=3)
    try:
        admin = SyncAdminClient.connect(address, config=config)
        try:
            info = admin.cluster_info()
        finally:
            admin.close()
    except AiwoError as exc:
        return False, False, str(exc)
    return True, info.leader, f"epoch {info.epoch}" if info.leader else "follower"


def collect(cluster: dict[str, object]) -> list[ProcessStatus]:
    processes = cluster.get("processes")
    if not isinstance(processes, list):
        raise CliError("cluster.json lists no processes")
    controllers = [p["address"] for p in processes if p.get("role") == "controller"]
    node_states: dict[str, NodeState] = {}
    for address in controllers:
        try:
            admin = SyncAdminClient.connect(address, config=ClientConfig(connect_timeout_s=2))
            try:
                node_states = {n.name: n.state for n in admin.list_nodes()}
            finally:
                admin.close()
            break
        except AiwoError:
            continue
    result = []
    record = cluster.get("credentials")
    credentials = {str(k): str(v) for k, v in record.items()} if isinstance(record, dict) else None
    for proc in processes:
        role, pid, address = str(proc["role"]), int(proc["pid"]), str(proc.get("address", ""))
        name = str(proc.get("name", role))
        alive, leader, detail = _alive(pid), False, ""
        healthy = alive
        if not alive:
            detail = "process not running"
        elif role == "etcd":
            healthy, detail = _etcd_health(address, credentials)
        elif role == "controller":
            healthy, leader, detail = _controller_health(address)
        elif role == "agent":
            state = node_states.get(name)
            healthy = state == NodeState.READY
            detail = f"node {state.value}" if state else "node not registered"
        result.append(ProcessStatus(role, name, pid, address, healthy, leader, detail))
    return result


@click.group("cluster")
def cluster() -> None:
    """The local cluster started by `aiwo up`."""


@cluster.command("status")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="AIWO_STATE_DIR",
    help="The state directory `aiwo up` used.",
)
@output_option
def status(state_dir: Path | None, output: str) -> None:
    """Each process (etcd, controllers, agents, workloads): pid, address, health, leader."""
    directory = state_dir or default_state_dir()
    data = read_cluster_file(directory)
    if data is None:
        raise CliError(f"no local cluster recorded in {directory}; start one with `aiwo up`")
    statuses = collect(data)
    if output == "json":
        click.echo(json.dumps([asdict(s) for s in statuses], indent=2))
        return
    table = Table(box=None, header_style="bold")
    for column in ("ROLE", "NAME", "PID", "ADDRESS", "HEALTHY", "LEADER", "DETAIL"):
        table.add_column(column)
    for s in statuses:
        table.add_row(
            s.role, s.name, str(s.pid), s.address or "-",
            "[green]yes[/green]" if s.healthy else "[red]no[/red]",
            "yes" if s.leader else "", s.detail,
        )  # fmt: skip
    console().print(table)
