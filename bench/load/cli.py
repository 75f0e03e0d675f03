"""`aiwo bench load`: replay a trace against any HTTP URL, open loop, with a latency report.

aiwo bench load --url http://GW/s/default/chat/v1/completions \
    --servegen ../shared/data/servegen/m-small --rate-scale 0.01 --duration 300 --stream -o json
"""

from __future__ import annotations

import asyncio
import json
import math
import urllib.parse
from pathlib import Path
from typing import Any

import click

from bench.load.arrivals import Schedule, from_azure, from_servegen
from bench.load.generator import run_open_loop
from bench.load.report import summarize
from bench.options import output_option
from bench.trace import TraceError


def load_schedule(
    trace: Path | None,
    servegen: Path | None,
    rate_scale: float,
    duration_s: float,
    start_s: float,
    seed: int,
) -> Schedule:
    if (trace is None) == (servegen is None):
        raise click.UsageError("give one of --trace CSV or --servegen DIR")
    try:
        if trace is not None:
            return from_azure(trace, rate_scale, duration_s, start_s)
        assert servegen is not None
        return from_servegen(servegen, rate_scale, duration_s, start_s, seed)
    except TraceError as e:
        raise click.ClickException(str(e)) from None


def _http_url(_ctx: click.Context, _param: click.Parameter, url: str) -> str:
    """Refused at once: a URL aiohttp cannot send to would otherwise fail every request of the
    run, one by one, and the run would still exit 0."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{url!r}: expected http://HOST[:PORT]/PATH")
    return url


def _finite(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
    """click's FloatRange lets nan through (every comparison with it is false)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value!r} is not a finite number")
    return value


def _text(report: dict[str, Any]) -> str:
    lines = [
        f"{report['source']}  x{report['rate_scale']}  {report['duration_s']:.0f} s  "
        f"-> {report['url']}",
        f"requests {report['requests']}  ok {report['ok']}  errors {report['errors']} "
        f"{report['errors_by_kind'] or ''}",
        f"offered {report['offered_rate_rps']} req/s  achieved {report['achieved_rate_rps']} req/s",
    ]
    for key in ("ttft_ms", "latency_ms", "chunk_gap_ms", "dispatch_lag_ms"):
        s = report[key]
        if s.get("count"):
            lines.append(
                f"{key:<16} median {s['median']:>9.1f}  p99 {s['p99']:>9.1f}  max {s['max']:>9.1f}"
            )
    return "\n".join(lines)


@click.command("load")
@click.option("--url", required=True, callback=_http_url,
              help="Where every request goes (e.g. a gateway path).")  # fmt: skip
@click.option("--trace", type=click.Path(exists=True, path_type=Path), help="Azure LLM trace CSV.")
@click.option("--servegen", type=click.Path(exists=True, path_type=Path),
              help="ServeGen client folder.")  # fmt: skip
@click.option(
    "--rate-scale",
    type=click.FloatRange(min=1e-6, max=1e6),
    default=1.0,
    show_default=True,
    callback=_finite,
)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    callback=_finite,
    help="Seconds of (scaled) trace to replay.",
)
@click.option(
    "--start",
    "start_s",
    type=click.FloatRange(min=0.0),
    default=0.0,
    callback=_finite,
    help="Trace offset, s.",
)
@click.option("--stream", is_flag=True, help="Ask for server-sent events (Accept, stream: true).")
@click.option("--method", type=click.Choice(["POST", "GET"]), default="POST", show_default=True)
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), default=600.0,
              callback=_finite)  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="ServeGen sampling seed.")
@output_option
def load(
    url: str,
    trace: Path | None,
    servegen: Path | None,
    rate_scale: float,
    duration_s: float,
    start_s: float,
    stream: bool,
    method: str,
    timeout_s: float,
    seed: int,
    output: str,
) -> None:
    """An open-loop HTTP load generator: arrivals at the trace's times, scaled by K."""
    schedule = load_schedule(trace, servegen, rate_scale, duration_s, start_s, seed)
    if not len(schedule):
        raise click.ClickException("no requests in that part of the trace")
    outcomes, wall_s = asyncio.run(
        run_open_loop(url, schedule, stream=stream, method=method, timeout_s=timeout_s)
    )
    report = {
        "url": url,
        "source": schedule.source,
        "rate_scale": rate_scale,
        "duration_s": duration_s,
        "start_s": start_s,
        "stream": stream,
        **summarize(outcomes, duration_s, wall_s),
    }
    click.echo(json.dumps(report, indent=2) if output == "json" else _text(report))
