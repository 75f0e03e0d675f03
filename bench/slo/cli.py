"""`aiwo-bench slo`: the co-location scenario on an LLM inference trace, three runs side by side.

aiwo-bench slo --duration 3600 -o json
aiwo-bench slo --seeds 0-4          # median and spread over five seeds
aiwo-bench slo --rate-scale 1.2 --shift 1750 --set energy_batch_floor=0.8
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from pathlib import Path

import click
from rich.console import Console

from bench.options import output_option, parse_seeds, progress_bar, workers_option
from bench.slo.report import summarize, table
from bench.slo.run import EXTRA_MODES, MODES, RunResult, simulate
from bench.slo.scenario import Scenario
from bench.slo.trace import LlmTrace, read_llm_trace, reshape
from bench.trace import TraceError
from controlplane.optimizer.errors import ConfigError
from controlplane.optimizer.runtime import LADDER_STEPS, RuntimeConfig

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TRACE = (
    REPO.parent / "shared" / "data" / "azure-llm-2023" / "AzureLLMInferenceTrace_conv.csv"
)
LADDERS = {"default": RuntimeConfig().ladder, "issue": LADDER_STEPS}

_job_state: tuple[LlmTrace, Scenario, float, RuntimeConfig] | None = None


@click.command("slo")
@click.option(
    "--trace",
    "trace_csv",
    type=click.Path(path_type=Path),
    default=DEFAULT_TRACE,
    show_default=True,
    help="Azure LLM trace CSV: TIMESTAMP,ContextTokens,GeneratedTokens",
)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(min=1.0),
    default=3600.0,
    show_default=True,
    help="simulated seconds from the trace's first request",
)
@click.option(
    "--rate-scale",
    type=click.FloatRange(min=0.1, max=10.0),
    default=1.0,
    show_default=True,
    help="the trace's requests arrive this many times faster (a heavier or lighter workload)",
)
@click.option(
    "--shift",
    "shift_s",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="start this many seconds into the trace and wrap around (busy periods move)",
)
@click.option("--seed", type=int, default=None, help="one seed (default 0)")
@click.option(
    "--seeds", "seeds_text", default=None, help="several seeds, e.g. 0-4: median and spread"
)
@click.option(
    "--target-ms",
    type=click.FloatRange(min=1.0),
    default=Scenario.target_ms,
    show_default=True,
    help="the services' p99 TPOT target",
)
@click.option(
    "--services",
    type=click.IntRange(min=1),
    default=Scenario.services,
    show_default=True,
    help="latency-critical services; the trace's requests are dealt among them",
)
@click.option(
    "--batch-jobs",
    type=click.IntRange(min=0),
    default=Scenario.batch_jobs,
    show_default=True,
    help="training jobs",
)
@click.option(
    "--autoscale/--no-autoscale",
    default=True,
    show_default=True,
    help="the aiwo runs grow and shrink services (the autoscaler core); off: fixed replicas",
)
@click.option(
    "--max-replicas",
    type=click.IntRange(min=1, max=64),
    default=Scenario.service_max_replicas,
    show_default=True,
    help="replicas per service at most (aiwo runs with --autoscale)",
)
@click.option(
    "--ladder",
    type=click.Choice(sorted(LADDERS)),
    default="default",
    show_default=True,
    help="issue: with the power-cap rung (docs/runtime.md)",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="FIELD=VALUE",
    help="a RuntimeConfig field for the aiwo runs, e.g. --set energy_batch_floor=0.8 (repeatable)",
)
@click.option(
    "--with-priority-aiwo",
    is_flag=True,
    help="a fourth run: the priority placement with aiwo's runtime control",
)
@output_option
@workers_option("(seed, run)")
def slo(
    trace_csv: Path,
    duration_s: float,
    rate_scale: float,
    shift_s: float,
    seed: int | None,
    seeds_text: str | None,
    target_ms: float,
    services: int,
    batch_jobs: int,
    autoscale: bool,
    max_replicas: int,
    ladder: str,
    overrides: tuple[str, ...],
    with_priority_aiwo: bool,
    output: str,
    workers: int,
) -> None:
    """SLO attainment, batch throughput and energy: no control, priority-only placement, aiwo."""
    if seed is not None and seeds_text is not None:
        raise click.UsageError("give --seed or --seeds, not both")
    seeds = parse_seeds(seeds_text) if seeds_text else [0 if seed is None else seed]
    try:
        trace = reshape(read_llm_trace(trace_csv), rate_scale, shift_s)
    except TraceError as e:
        raise click.ClickException(str(e)) from None
    scenario = replace(
        Scenario(),
        target_ms=target_ms,
        services=services,
        batch_jobs=batch_jobs,
        autoscale=autoscale,
        service_max_replicas=max_replicas,
    )
    if services * scenario.service_milli + batch_jobs * scenario.batch_milli > 1000 * len(
        scenario.slots
    ):
        raise click.UsageError(
            f"{services} services and {batch_jobs} jobs do not fit on {len(scenario.slots)} GPUs"
        )
    # The GPU tick is phase-aware (bench/slo/gpu.py): the runtime's decode clock lock runs at
    # its default; `--set energy_decode_max_slowdown=1.0` turns it off.
    base = RuntimeConfig(ladder=LADDERS[ladder])
    config = config_with(base, overrides)
    modes = MODES + (EXTRA_MODES if with_priority_aiwo else ())
    jobs = [(s, mode) for s in seeds for mode in modes]
    started = time.perf_counter()
    err = Console(stderr=True)
    if output == "json":
        results = list(_run(jobs, trace, scenario, duration_s, config, workers))
    else:
        results = _with_progress(err, jobs, trace, scenario, duration_s, config, workers)
    summary = summarize(results)
    summary["scenario"] = {
        "trace": str(trace_csv),
        "duration_s": duration_s,
        "requests_in_trace": len(trace),
        "rate_scale": rate_scale,
        "shift_s": shift_s,
        "target_ms": target_ms,
        "services": services,
        "batch_jobs": batch_jobs,
        "gpus": len(scenario.slots),
        "autoscale": autoscale,
        "max_replicas": max_replicas,
        "cold_start_s": scenario.cold_start_s,
        "ladder": list(config.ladder),
        "overrides": list(overrides),
    }
    if output == "json":
        click.echo(json.dumps(summary, indent=2))
        return
    title = (
        f"{trace_csv.name}: {duration_s:g} s simulated, {len(seeds)} seed(s), "
        f"{time.perf_counter() - started:.1f} s with {workers} worker(s)"
    )
    Console().print(table(summary, title))


def config_with(config: RuntimeConfig, overrides: tuple[str, ...]) -> RuntimeConfig:
    """RuntimeConfig with FIELD=VALUE overrides, each parsed as its field's type."""
    kinds = {f.name: f.type for f in fields(RuntimeConfig)}
    changes: dict[str, object] = {}
    for item in overrides:
        name, sep, text = item.partition("=")
        if not sep or name not in kinds or name == "ladder":
            raise click.BadParameter(
                f"expected FIELD=VALUE with a RuntimeConfig field (not ladder), got {item!r}",
                param_hint="--set",
            )
        try:
            if kinds[name] == "bool":
                if text.lower() not in ("true", "false"):
                    raise ValueError(text)
                changes[name] = text.lower() == "true"
            else:
                changes[name] = int(text) if kinds[name] == "int" else float(text)
        except ValueError:
            raise click.BadParameter(f"{name}: not a {kinds[name]}: {text!r}") from None
    try:
        return replace(config, **changes)  # type: ignore[arg-type]
    except ConfigError as e:
        raise click.BadParameter(str(e), param_hint="--set") from None


def _init(state: tuple[LlmTrace, Scenario, float, RuntimeConfig]) -> None:
    global _job_state
    _job_state = state


def _job(job: tuple[int, str]) -> RunResult:
    assert _job_state is not None
    trace, scenario, duration_s, config = _job_state
    seed, mode = job
    return simulate(scenario, trace, mode, duration_s, seed, config)


def _run(
    jobs: list[tuple[int, str]],
    trace: LlmTrace,
    scenario: Scenario,
    duration_s: float,
    config: RuntimeConfig,
    workers: int,
) -> Iterator[RunResult]:
    state = (trace, scenario, duration_s, config)
    if workers <= 1 or len(jobs) == 1:
        _init(state)
        yield from map(_job, jobs)
        return
    with mp.get_context("fork").Pool(workers, initializer=_init, initargs=(state,)) as pool:
        yield from pool.imap_unordered(_job, jobs)


def _with_progress(
    console: Console,
    jobs: list[tuple[int, str]],
    trace: LlmTrace,
    scenario: Scenario,
    duration_s: float,
    config: RuntimeConfig,
    workers: int,
) -> list[RunResult]:
    out: list[RunResult] = []
    with progress_bar(console) as progress:
        task = progress.add_task("runs", total=len(jobs))
        advance: Callable[[], None] = lambda: progress.advance(task)  # noqa: E731
        for r in _run(jobs, trace, scenario, duration_s, config, workers):
            out.append(r)
            advance()
    return out
