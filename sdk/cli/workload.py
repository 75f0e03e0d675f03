"""`aiwo register` / `aiwo deregister`: workloads from flags, for demos and tests."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from sdk import (
    ModelVariant,
    NotFound,
    Resources,
    SloHints,
    SyncWorkloadHandle,
    resolve_priority,
)
from sdk.cli import _render as render
from sdk.cli._app import CliError, Seconds, key_values, namespace_option, output_option, state

F = TypeVar("F", bound=Callable[..., Any])


def _variant(text: str) -> ModelVariant:
    """NAME[:MILLI_GPU[:LATENCY_FACTOR]], e.g. "int8:250:0.7"."""
    name, *rest = text.split(":")
    try:
        milli = int(rest[0]) if rest and rest[0] else 0
        factor = float(rest[1]) if len(rest) > 1 else 1.0
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected NAME[:MILLI_GPU[:LATENCY_FACTOR]]") from None
    resources = Resources(gpus=1, milli_gpu=milli) if milli else Resources()
    return ModelVariant(name=name, resources=resources, latency_factor=factor)


def ask_options(fn: F) -> F:
    """--priority, --gpus and --milli-gpu: what a new workload asks for (register, run)."""
    options = (
        click.option(
            "--priority", default="normal", show_default=True, help="Class name or 0..1000."
        ),
        click.option(
            "--gpus", default=0, type=int, help="Whole GPUs (1 with --milli-gpu: a share)."
        ),
        click.option("--milli-gpu", default=0, type=int, help="Share of one GPU, 1..1000."),
    )
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.command()
@click.argument("name")
@namespace_option
@ask_options
@click.option("--gpu-memory-mib", default=0, type=int, help="Per GPU.")
@click.option("--gpu-model", "gpu_models", multiple=True, help="Accepted model; repeatable.")
@click.option("--p99-ms", default=0.0, type=float, help="p99 latency target (ms).")
@click.option("--throughput", default=0.0, type=float, help="Throughput target (per s).")
@click.option(
    "--deadline-s",
    default=0.0,
    type=click.FloatRange(min=0),
    help="Finish within this many seconds (0: no deadline).",
)
@click.option("--variant", "variants", multiple=True, help="NAME[:MILLI_GPU[:LATENCY_FACTOR]].")
@click.option("--service", default="", help="Replicas of one service spread across nodes.")
@click.option("--label", "labels", multiple=True, help="KEY=VALUE; repeatable.")
@click.option("--wait/--no-wait", default=False, help="Wait until it is placed.")
@click.option("--timeout", default=30.0, type=Seconds(), show_default=True, help="For --wait (s).")
@output_option
def register(
    name: str,
    namespace: str | None,
    priority: str,
    gpus: int,
    milli_gpu: int,
    gpu_memory_mib: int,
    gpu_models: tuple[str, ...],
    p99_ms: float,
    throughput: float,
    deadline_s: float,
    variants: tuple[str, ...],
    service: str,
    labels: tuple[str, ...],
    wait: bool,
    timeout: float,
    output: str,
) -> None:
    """Register a workload (idempotent for an identical spec)."""
    resolve_priority(priority)  # a typo is reported without a round trip
    client = state().client()
    handle = client.register(
        name,
        namespace=namespace,
        priority=priority,
        slo=SloHints(
            p99_latency_ms=p99_ms,
            throughput_target=throughput,
            deadline_unix=time.time() + deadline_s if deadline_s else 0.0,
        ),
        resources=Resources(
            gpus=gpus, milli_gpu=milli_gpu, gpu_memory_mib=gpu_memory_mib, gpu_models=gpu_models
        ),
        variants=[_variant(v) for v in variants],
        service=service,
        labels=key_values(labels, "--label"),
    )
    show_registered(handle, wait=wait, timeout=timeout, output=output, placed="placed on")


def show_registered(
    handle: SyncWorkloadHandle, *, wait: bool, timeout: float, output: str, placed: str
) -> None:
    """What `register` and `run` print: the workload (-o json), where it is `placed`, or
    why it waits; with --wait, after its placement."""
    workload = handle.last_seen
    if wait:
        handle.wait_placed(timeout)
        workload = handle.describe()
    assert workload is not None
    if output == "json":
        click.echo(render.to_json(workload))
    elif workload.placement is not None:
        click.echo(f"workload {workload.key} {placed} {render.placement_text(workload)}")
    else:
        why = f": {workload.message}" if workload.message else ""
        click.echo(f"workload {workload.key} registered ({workload.phase}{why})")


@click.command()
@click.argument("name")
@namespace_option
def deregister(name: str, namespace: str | None) -> None:
    """Remove a workload; its placement is released. For a service: drain every replica
    (out of the gateway first, stopped once its requests are done), then remove it."""
    from sdk.cli.serve import deregister_service

    if deregister_service(name, namespace):
        return
    handle = state().client().get_handle(name, namespace=namespace)
    try:
        handle.deregister()
    except NotFound:
        # Neither was found: "workload ... not found" would hide that a service was looked for.
        raise CliError(f"service or workload {handle.key} not found") from None
    click.echo(f"workload {handle.key} deregistered")


@click.command()
@click.argument("name")
@namespace_option
@click.option("--priority", default=None, help="Class name or 0..1000.")
@click.option("--gpus", default=None, type=click.IntRange(min=0), help="Whole GPUs.")
@click.option("--milli-gpu", default=None, type=click.IntRange(0, 1000), help="GPU share.")
@click.option("--gpu-memory-mib", default=None, type=click.IntRange(min=0), help="Per GPU.")
@click.option("--p99-ms", default=None, type=click.FloatRange(min=0), help="p99 target (ms).")
@click.option("--throughput", default=None, type=click.FloatRange(min=0), help="Per second.")
@click.option("--deadline-s", default=None, type=click.FloatRange(min=0), help="From now; 0: none.")
@click.option("--label", "labels", multiple=True, help="KEY=VALUE; replaces all labels.")
@output_option
def update(
    name: str,
    namespace: str | None,
    priority: str | None,
    gpus: int | None,
    milli_gpu: int | None,
    gpu_memory_mib: int | None,
    p99_ms: float | None,
    throughput: float | None,
    deadline_s: float | None,
    labels: tuple[str, ...],
    output: str,
) -> None:
    """Change a registered workload's spec: only the options given change.

    Conditional on the generation just read, so a concurrent change is reported, not undone.
    """
    if priority is not None:
        resolve_priority(priority)
    handle = state().client().get_handle(name, namespace=namespace)
    current = handle.describe().spec
    resources, slo = current.resources, current.slo
    resource_changes: dict[str, Any] = {
        k: v
        for k, v in (("gpus", gpus), ("milli_gpu", milli_gpu), ("gpu_memory_mib", gpu_memory_mib))
        if v is not None
    }
    slo_changes: dict[str, float] = {}
    if p99_ms is not None:
        slo_changes["p99_latency_ms"] = p99_ms
    if throughput is not None:
        slo_changes["throughput_target"] = throughput
    if deadline_s is not None:
        slo_changes["deadline_unix"] = time.time() + deadline_s if deadline_s else 0.0
    workload = handle.update(
        priority=priority,
        resources=dataclasses.replace(resources, **resource_changes) if resource_changes else None,
        slo=dataclasses.replace(slo, **slo_changes) if slo_changes else None,
        labels=key_values(labels, "--label") if labels else None,
    )
    if output == "json":
        click.echo(render.to_json(workload))
    else:
        click.echo(f"workload {workload.key} updated (generation {workload.generation})")
