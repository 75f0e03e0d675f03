"""`aiwo serve`, `aiwo services`, `aiwo describe service`, `aiwo scale`: services with replicas
that grow and shrink with their traffic, behind the gateway."""

from __future__ import annotations

import json
import time

import click
import grpc

from sdk import (
    AiwoError,
    NotFound,
    Resources,
    Service,
    SloHints,
    SyncAdminClient,
    make_service_spec,
    plural,
    read_cluster_file,
    resolve_priority,
    targets_text,
)
from sdk.cli import _services_render as render
from sdk.cli._app import (
    CliError,
    Seconds,
    key_values,
    listed_namespace,
    namespace_option,
    namespaces_option,
    output_option,
    state,
)
from sdk.cli._render import console


def parse_replicas(
    _ctx: click.Context | None, _param: click.Parameter | None, text: str
) -> tuple[int, int]:
    """ "1-4" -> (1, 4); "3" -> (3, 3). min > max is the controller's to refuse (naming
    the field), so that every client gets the same answer."""
    low, sep, high = text.partition("-")
    try:
        bounds = (int(low), int(high)) if sep else (int(low), int(low))
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected MIN-MAX or N, e.g. 1-4") from None
    return bounds


def gateway_address() -> str | None:
    """The gateway `aiwo up` recorded in cluster.json, if any."""
    cluster = read_cluster_file() or {}
    gateway = cluster.get("gateway")
    return gateway if isinstance(gateway, str) and gateway else None


@click.command()
@click.argument("name")
@click.option(
    "--replicas", "replica_range", required=True, metavar="MIN-MAX", callback=parse_replicas,
    help="Replica bounds, e.g. 1-4 (0-4: scale to zero when idle; 3: fixed).",
)  # fmt: skip
@namespace_option
@click.option("--gpus", default=0, type=click.IntRange(min=0), help="Whole GPUs per replica.")
@click.option("--milli-gpu", type=click.IntRange(1, 1000),
              help="Share of one GPU per replica, 1..1000.")  # fmt: skip
@click.option("--ttft-ms", default=0.0, type=float, help="Time to first token, p99 (ms).")
@click.option("--tpot-ms", default=0.0, type=float, help="Mean time per output token (ms).")
@click.option("--p99-ms", default=0.0, type=float, help="End-to-end p99 latency (ms).")
@click.option("--health", "health_path", default="/healthz", show_default=True,
              help="Ready once GET PATH on AIWO_PORT answers 200.")  # fmt: skip
@click.option("--priority", default="normal", show_default=True, help="Class name or 0..1000.")
@click.option("--env", "env", multiple=True, help="KEY=VALUE for each replica; repeatable.")
@click.option("--workdir", default="", help="Working directory on the node.")
@click.option("--load-timeout-s", default=0.0, type=float,
              help="Not ready by then: replaced (0: the controller's 600 s).")  # fmt: skip
@click.option("--drain-grace-s", default=0.0, type=float,
              help="Scale-in waits this long for requests (0: 30 s).")  # fmt: skip
@click.option("--wait/--no-wait", default=False, help="Wait until MIN replicas are ready.")
@click.option("--timeout", default=120.0, type=Seconds(), show_default=True, help="For --wait (s).")
@output_option
@click.argument("command", nargs=-1, required=True, metavar="-- COMMAND [ARGS]...")
def serve(
    name: str,
    replica_range: tuple[int, int],
    namespace: str | None,
    gpus: int,
    milli_gpu: int | None,
    ttft_ms: float,
    tpot_ms: float,
    p99_ms: float,
    health_path: str,
    priority: str,
    env: tuple[str, ...],
    workdir: str,
    load_timeout_s: float,
    drain_grace_s: float,
    wait: bool,
    timeout: float,
    output: str,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND as a service whose replica count follows its traffic.

    Each replica must listen on $AIWO_PORT (a free port on its node) and answer GET
    /healthz (or --health) with 200 once it can serve; AIWO_REPLICA is its index.
    Requests reach it through the gateway at http://GATEWAY/s/NAMESPACE/NAME/PATH. A bare
    `python` in COMMAND is the node agent's own interpreter, as for `aiwo run`.

    \b
    Example:
        aiwo serve chat --replicas 1-4 --ttft-ms 500 \\
            -- python -m sdk.examples.llm_server
    """
    low, high = replica_range
    if gpus and milli_gpu:
        raise click.UsageError("use either --gpus or --milli-gpu (a share of one GPU)")
    resolve_priority(priority)  # a typo is reported without a round trip
    spec = make_service_spec(
        command,
        min_replicas=low,
        max_replicas=high,
        env=key_values(env, "--env"),
        working_dir=workdir,
        priority=priority,
        resources=Resources(gpus=1, milli_gpu=milli_gpu) if milli_gpu else Resources(gpus=gpus),
        slo=SloHints(ttft_ms=ttft_ms, tpot_ms=tpot_ms, p99_latency_ms=p99_ms),
        health_path=health_path,
        load_timeout_s=load_timeout_s,
        drain_grace_s=drain_grace_s,
    )
    admin = state().admin()
    service = admin.create_service(name, spec, namespace=namespace)
    if wait:
        service = _wait_ready(admin, service, timeout)
    if output == "json":
        click.echo(json.dumps(render.service_json(service), indent=2))
        return
    bounds = f"{low}-{high}" if low != high else str(low)
    click.echo(f"service {service.key} created: replicas {bounds}, {service.ready} ready")
    gateway = gateway_address()
    if gateway:
        click.echo(f"requests: http://{gateway}/s/{service.namespace}/{service.name}/")


def _wait_ready(admin: SyncAdminClient, service: Service, timeout_s: float) -> Service:
    deadline = time.monotonic() + timeout_s
    while service.ready < service.spec.min_replicas:
        if time.monotonic() > deadline:
            raise CliError(
                f"service {service.key}: {service.ready} of {service.spec.min_replicas}"
                f" replicas ready after {timeout_s:g} s"
                + (f" ({service.message})" if service.message else "")
            )
        time.sleep(0.5)
        service = admin.get_service(service.name, service.namespace)
    return service


@click.command()
@namespaces_option
@output_option
def services(namespace: str | None, all_namespaces: bool, output: str) -> None:
    """List services (of the default namespace unless -n or -A)."""
    ns = listed_namespace(namespace, all_namespaces)
    items = state().admin().list_services(ns)
    if output == "json":
        click.echo(json.dumps([render.service_json(s) for s in items], indent=2))
        return
    if not items:
        click.echo("no services" + ("" if all_namespaces else f" in namespace {ns}"))
        return
    console().print(render.services_table(items, namespaces=all_namespaces))


@click.command("service")
@click.argument("name")
@namespace_option
@output_option
def describe_service(name: str, namespace: str | None, output: str) -> None:
    """Describe a service: its replicas, endpoints, last scale and why."""
    admin = state().admin()
    service = admin.get_service(name, namespace)
    if output == "json":
        click.echo(json.dumps(render.service_json(service), indent=2))
        return
    # ListEvents takes a prefix: "service/default/chat" is also the start of ".../chatbot",
    # and an earlier service of this name (deleted, created again) left its events too.
    name_of = f"service/{service.namespace}/{service.name}"
    events = [
        e
        for e in admin.list_events(name_of, 100)
        if e.object == name_of and e.time_unix >= service.created_unix
    ][:10]
    console().print(render.service_view(service, events))


@click.command()
@click.argument("name")
@namespace_option
@click.option("--replicas", type=click.IntRange(min=0), help="Pin this many (within MIN-MAX).")
@click.option("--auto", is_flag=True, help="Hand the count back to the autoscaler.")
@click.option("--min", "min_replicas", type=int, help="New lower bound (0: scale to zero).")
@click.option("--max", "max_replicas", type=int, help="New upper bound (1..64).")
@click.option("--ttft-ms", type=float, help="New p99 time-to-first-token target (0: none).")
@click.option("--tpot-ms", type=float, help="New time-per-output-token target (0: none).")
@click.option("--p99-ms", type=float, help="New end-to-end p99 latency target (0: none).")
def scale(
    name: str,
    namespace: str | None,
    replicas: int | None,
    auto: bool,
    min_replicas: int | None,
    max_replicas: int | None,
    ttft_ms: float | None,
    tpot_ms: float | None,
    p99_ms: float | None,
) -> None:
    """Pin a service's replica count (--replicas N) until --auto, or change what the
    autoscaler works within: --min/--max (the replica range) and the SLO targets it
    scales for (--ttft-ms, --tpot-ms, --p99-ms). Only the options given change, all or
    none.

    \b
    Example:
        aiwo scale chat --min 2 --max 8 --ttft-ms 1500
    """
    changes = (min_replicas, max_replicas, ttft_ms, tpot_ms, p99_ms)
    updating = any(value is not None for value in changes)
    pinning = replicas is not None or auto
    if updating and pinning:
        # Two calls, the second of which may fail, would leave half a change behind.
        raise click.UsageError(
            "--replicas/--auto and --min/--max/--ttft-ms/--tpot-ms/--p99-ms are separate"
            " changes: run one `aiwo scale` for each"
        )
    if not updating and not pinning:
        raise click.UsageError(
            "give --replicas N or --auto, or what to change: --min, --max, --ttft-ms,"
            " --tpot-ms, --p99-ms"
        )
    if replicas is not None and auto:
        raise click.UsageError("give either --replicas N or --auto")
    # Every usage error above is found before connecting: a stopped controller must not hide it.
    admin = state().admin()
    if updating:
        service = admin.update_service(
            name, min_replicas=min_replicas, max_replicas=max_replicas, ttft_ms=ttft_ms,
            tpot_ms=tpot_ms, p99_latency_ms=p99_ms, namespace=namespace,
        )  # fmt: skip
        targets = targets_text(service.spec.template.slo)
        click.echo(
            f"service {service.key}: replicas {service.spec.min_replicas}-"
            f"{service.spec.max_replicas}, desired {service.desired}; SLO targets {targets}"
        )
        return
    service = admin.scale_service(name, replicas, auto=auto, namespace=namespace)
    if replicas is None:
        click.echo(f"service {service.key} autoscaled (desired {service.desired})")
    elif replicas is not None:  # always, by the check above; says so to the type checker
        click.echo(f"service {service.key} pinned at {plural(replicas, 'replica')}")


def deregister_service(name: str, namespace: str | None) -> bool:
    """`aiwo deregister NAME` for a service: drain every replica, then remove it. False when
    there is no service of that name (the caller tries a workload)."""
    admin = state().admin()
    try:
        service = admin.get_service(name, namespace)
    except NotFound:
        return False
    except AiwoError as error:
        if error.code == grpc.StatusCode.UNIMPLEMENTED:  # a controller without services
            return False
        raise
    admin.delete_service(service.name, service.namespace)
    draining = plural(len(service.replicas), "replica")
    click.echo(f"service {service.key} deregistered: draining {draining}")
    return True
