"""`aiwo bench gateway`: what the gateway adds to a request, and how many streams it holds.

Three real processes: a stand-in LLM server (bench/load/upstream.py), `aiwo-gateway` in
front of it (fed its one endpoint by a GatewayService in this process), and the open-loop
load generator here. Phase 1, overhead: one Poisson schedule, its requests dealt alternately
to the server directly and through the gateway, so both see the same load at the same time;
repeated `--rounds` times. Phase 2, streams: `--streams` long SSE streams opened together
through the gateway, held for `--stream-s`; how many were open at once and how many ended
well. Figures: median and p99 per path, and the gateway's addition (gateway − direct).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import click
import numpy as np

from bench.load.arrivals import Schedule
from bench.load.generator import Outcome, run_open_loop
from bench.load.report import summarize
from bench.load.static_controller import StaticEndpoints
from bench.options import output_option

NAMESPACE, SERVICE, STREAMS = "bench", "llm", "streams"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _poisson(rate: float, duration_s: float, tokens: int, seed: int) -> Schedule:
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / rate, int(rate * duration_s * 1.5) + 16)
    t = np.cumsum(gaps)
    t = t[t < duration_s]
    n = t.size
    return Schedule(
        "poisson",
        t,
        np.full(n, 100, dtype=np.int64),
        np.full(n, tokens, dtype=np.int64),
        duration_s,
    )


def _deal(schedule: Schedule, part: int) -> Schedule:
    """Every other request of `schedule` (part 0 or 1)."""
    return Schedule(
        schedule.source,
        schedule.offset_s[part::2],
        schedule.prompt_tokens[part::2],
        schedule.output_tokens[part::2],
        schedule.duration_s,
    )


async def _wait_ok(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise click.ClickException(f"{url} did not answer 200 within {timeout_s:.0f} s")
            await asyncio.sleep(0.1)


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=str(Path(__file__).resolve().parents[2]),
        env={**os.environ, "GRPC_ENABLE_FORK_SUPPORT": "false"},
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _max_overlap(outcomes: list[Outcome]) -> int:
    events = sorted(
        [(o.scheduled_s + o.lag_ms / 1000.0, 1) for o in outcomes]
        + [(o.scheduled_s + o.latency_ms / 1000.0, -1) for o in outcomes]
    )
    open_now = peak = 0
    for _, step in events:
        open_now += step
        peak = max(peak, open_now)
    return peak


def _added(direct: dict[str, Any], via: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for metric in ("ttft_ms", "latency_ms"):
        for stat in ("median", "p99"):
            if direct[metric].get("count") and via[metric].get("count"):
                out[f"{metric}_{stat}"] = round(via[metric][stat] - direct[metric][stat], 3)
    return out


@dataclass(frozen=True)
class Scenario:
    """What one run does (the command's options, field by field)."""

    rate: float  # requests per second in the overhead phase
    duration_s: float  # of each overhead round
    rounds: int
    tokens: int  # per overhead request
    ttft_ms: float  # the stand-in server's
    tpot_ms: float
    streams: int  # long SSE streams held together in the streams phase
    stream_s: float  # how long each is held
    stream_tpot_ms: float
    seed: int


async def _bench(s: Scenario) -> dict[str, Any]:
    upstream_port, streams_port, gateway_port = _free_port(), _free_port(), _free_port()
    # Each request asks for its own token count: the servers' cap only bounds them. The
    # long streams have their own server, at their own token pace.
    upstream = _spawn(
        "-m", "bench.load.upstream", "--port", str(upstream_port),
        "--ttft-ms", str(s.ttft_ms), "--tpot-ms", str(s.tpot_ms), "--max-tokens", "1000000",
    )  # fmt: skip
    streams_upstream = _spawn(
        "-m", "bench.load.upstream", "--port", str(streams_port),
        "--ttft-ms", str(s.ttft_ms), "--tpot-ms", str(s.stream_tpot_ms),
        "--max-tokens", "1000000",
    )  # fmt: skip
    controller = StaticEndpoints(
        {
            (NAMESPACE, SERVICE): {"llm-0": f"127.0.0.1:{upstream_port}"},
            (NAMESPACE, STREAMS): {"streams-0": f"127.0.0.1:{streams_port}"},
        }
    )
    gateway_process: subprocess.Popen[bytes] | None = None
    try:
        address = await controller.start()
        gateway_process = _spawn(
            "-m", "gateway.main", "--listen", f"127.0.0.1:{gateway_port}",
            "--controller", address, "--metrics-listen", "", "--log-level", "warning",
            "--name", "bench",
        )  # fmt: skip
        direct = f"http://127.0.0.1:{upstream_port}"
        via = f"http://127.0.0.1:{gateway_port}/s/{NAMESPACE}/{SERVICE}"
        await _wait_ok(direct + "/healthz")
        await _wait_ok(via + "/healthz")
        overhead: list[dict[str, Any]] = []
        for round_index in range(s.rounds):
            schedule = _poisson(s.rate, s.duration_s, s.tokens, s.seed + round_index)
            (d_out, d_wall), (g_out, g_wall) = await asyncio.gather(
                run_open_loop(direct + "/v1/completions", _deal(schedule, 0), stream=True),
                run_open_loop(via + "/v1/completions", _deal(schedule, 1), stream=True),
            )
            d = summarize(d_out, s.duration_s, d_wall)
            g = summarize(g_out, s.duration_s, g_wall)
            overhead.append({"direct": d, "gateway": g, "added_ms": _added(d, g)})
        stream_tokens = max(1, int(s.stream_s * 1000.0 / s.stream_tpot_ms))
        held: dict[str, Any] = {}
        if s.streams:
            await _wait_ok(f"http://127.0.0.1:{streams_port}/healthz")
            streams_url = f"http://127.0.0.1:{gateway_port}/s/{NAMESPACE}/{STREAMS}"
            held = await _hold_streams(streams_url, s.streams, stream_tokens)
    finally:
        if gateway_process is not None:
            _stop(gateway_process)
        _stop(upstream)
        _stop(streams_upstream)
        await controller.stop()
    return {
        "scenario": {
            "rate_rps": s.rate,
            "duration_s": s.duration_s,
            "rounds": s.rounds,
            "tokens": s.tokens,
            "ttft_ms": s.ttft_ms,
            "tpot_ms": s.tpot_ms,
            "streams": s.streams,
            "stream_s": s.stream_s,
            "stream_tpot_ms": s.stream_tpot_ms,
            "cpus": os.cpu_count(),
        },
        "overhead": overhead,
        "added_ms_median_of_rounds": _median_of_rounds(overhead),
        "streams": held,
        "controller_reports": controller.reports,
        "controller_max_in_flight": controller.max_in_flight,
    }


def _median_of_rounds(rounds: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    keys = sorted({k for r in rounds for k in r["added_ms"]})
    out: dict[str, dict[str, float]] = {}
    for key in keys:
        values = [r["added_ms"][key] for r in rounds if key in r["added_ms"]]
        out[key] = {
            "median": round(float(np.median(values)), 3),
            "min": round(min(values), 3),
            "max": round(max(values), 3),
        }
    return out


async def _hold_streams(via: str, streams: int, n: int) -> dict[str, Any]:
    schedule = Schedule(
        "streams",
        np.linspace(0.0, 0.5, streams),  # opened within half a second
        np.full(streams, 100, dtype=np.int64),
        np.full(streams, n, dtype=np.int64),
        0.5,
    )
    outcomes, wall_s = await run_open_loop(
        via + "/v1/completions", schedule, stream=True, keep_gaps=True
    )
    report = summarize(outcomes, 0.5, wall_s)
    return {
        "opened": streams,
        "ok": report["ok"],
        "errors": report["errors"],
        "errors_by_kind": report["errors_by_kind"],
        "max_open_at_once": _max_overlap(outcomes),
        "tokens_per_stream": n,
        "latency_ms": report["latency_ms"],
        "chunk_gap_ms": report["chunk_gap_ms"],
        "ttft_ms": report["ttft_ms"],
    }


def _text(result: dict[str, Any]) -> str:
    s = result["scenario"]
    lines = [
        f"gateway overhead: {s['rate_rps']} req/s for {s['duration_s']} s x {s['rounds']} rounds, "
        f"SSE {s['tokens']} tokens, server TTFT {s['ttft_ms']} ms, TPOT {s['tpot_ms']} ms",
    ]
    for i, r in enumerate(result["overhead"]):
        for path in ("direct", "gateway"):
            p = r[path]
            lines.append(
                f"  round {i} {path:<8} ok {p['ok']:>5}/{p['requests']:<5} "
                f"TTFT median {p['ttft_ms'].get('median', 0):7.2f} "
                f"p99 {p['ttft_ms'].get('p99', 0):7.2f}"
                f"  total median {p['latency_ms'].get('median', 0):7.2f} "
                f"p99 {p['latency_ms'].get('p99', 0):7.2f} ms"
            )
    for key, v in result["added_ms_median_of_rounds"].items():
        lines.append(
            f"  added {key:<18} median {v['median']:7.2f} (min {v['min']}, max {v['max']})"
        )
    h = result["streams"]
    if not h:
        return "\n".join(lines)
    lines.append(
        f"streams: {h['ok']}/{h['opened']} ok, {h['max_open_at_once']} open at once, "
        f"chunk gap p99 {h['chunk_gap_ms'].get('p99', 0):.1f} ms, errors {h['errors_by_kind']}"
    )
    return "\n".join(lines)


@click.command("gateway")
@click.option("--rate", type=click.FloatRange(min=1.0), default=100.0, show_default=True)
@click.option("--duration", "duration_s", type=click.FloatRange(min=1.0), default=20.0)
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--tokens", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--ttft-ms", type=click.FloatRange(min=0.0), default=20.0, show_default=True)
@click.option("--tpot-ms", type=click.FloatRange(min=0.1), default=5.0, show_default=True)
@click.option("--streams", type=click.IntRange(min=0), default=500, show_default=True)
@click.option("--stream-s", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
@click.option("--stream-tpot-ms", type=click.FloatRange(min=1.0), default=100.0)
@click.option("--seed", type=int, default=0, show_default=True)
@output_option
def gateway(output: str, **options: Any) -> None:
    """The gateway's added latency against direct requests, and the streams it holds."""
    result = asyncio.run(_bench(Scenario(**options)))
    click.echo(json.dumps(result, indent=2) if output == "json" else _text(result))
