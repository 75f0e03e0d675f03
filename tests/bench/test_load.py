"""`aiwo bench load`: arrivals from both trace formats, and a generator that stays open-loop
when the server slows down (checked on a real aiohttp server, by behaviour, not timing)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from click.testing import CliRunner

from bench.load.arrivals import Schedule, from_azure, from_servegen
from bench.load.generator import run_open_loop
from bench.load.report import summarize
from bench.main import main as bench_main
from bench.trace import TraceError

AZURE_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"


def servegen_dir(tmp_path: Path) -> Path:
    d = tmp_path / "sg"
    d.mkdir()
    # Client 0: 10 req/s Gamma in the first window, silent in the second; client 1: 5 req/s
    # Weibull in both; client 2: exponential, and no dataset file (as upstream for some).
    (d / "chunk-0-trace.csv").write_text("0,10.0,1.5,Gamma,0.44,0.2\n600,0,0,,0,0\n")
    (d / "chunk-1-trace.csv").write_text("0,5.0,2.0,Weibull,0.6,0.1\n600,5.0,2.0,Weibull,0.6,0.1\n")
    (d / "chunk-2-trace.csv").write_text("0,2.0,1.0,Exponential,0,0\n600,2.0,1.0,,0,0\n")
    for client, lengths in ((0, "{100: 0.5, 200: 0.5}"), (1, "{7: 1.0}")):
        (d / f"chunk-{client}-dataset.json").write_text(
            json.dumps({"0": {"input_tokens": lengths, "output_tokens": "{3: 1.0}"}})
        )
    return d


def test_servegen_rates_shapes_and_lengths(tmp_path: Path) -> None:
    schedule = from_servegen(servegen_dir(tmp_path), rate_scale=2.0, duration_s=1200.0, seed=1)
    t = schedule.offset_s
    assert np.all(np.diff(t) >= 0) and t[0] >= 0 and t[-1] < 1200.0
    first, second = int((t < 600).sum()), int((t >= 600).sum())
    # Scaled mean rates 34 and 14 req/s over 600 s: loose bounds (bursty draws).
    assert 0.6 * 34 * 600 < first < 1.4 * 34 * 600
    assert 0.6 * 14 * 600 < second < 1.4 * 14 * 600
    prompts = set(schedule.prompt_tokens.tolist())
    # Client 2 has no dataset: it draws from the pool of the others' lengths.
    assert prompts <= {100, 200, 7} and {100, 200, 7} <= prompts
    assert set(schedule.output_tokens.tolist()) == {3}
    again = from_servegen(tmp_path / "sg", 2.0, 1200.0, seed=1)
    assert np.array_equal(again.offset_s, t)  # the seed decides


def test_servegen_window_and_start(tmp_path: Path) -> None:
    schedule = from_servegen(servegen_dir(tmp_path), 1.0, duration_s=300.0, start_s=700.0)
    assert len(schedule) and schedule.offset_s.min() >= 0 and schedule.offset_s.max() < 300


def test_servegen_errors(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r"no chunk-N-trace\.csv"):
        from_servegen(tmp_path, 1.0, 10.0)
    (tmp_path / "chunk-0-trace.csv").write_text("0,abc,1,Gamma,1,1\n")
    with pytest.raises(TraceError, match=r"chunk-0-trace\.csv:1"):
        from_servegen(tmp_path, 1.0, 10.0)


def test_azure_rate_scale_compresses_time(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        AZURE_HEADER
        + "2023-11-16 18:00:00.0,10,2\n2023-11-16 18:00:02.0,20,3\n2023-11-16 18:00:10.0,30,4\n"
    )
    schedule = from_azure(path, rate_scale=2.0, duration_s=4.0)
    assert schedule.offset_s.tolist() == pytest.approx([0.0, 1.0])
    assert schedule.prompt_tokens.tolist() == [10, 20]


@pytest.fixture
async def slow_server() -> AsyncIterator[tuple[str, dict[str, int]]]:
    """Answers nothing until 30 requests are in; counts how many it holds at once."""
    state = {"open": 0, "peak": 0}
    release = asyncio.Event()

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        state["open"] += 1
        state["peak"] = max(state["peak"], state["open"])
        if state["open"] >= 30:
            release.set()
        await release.wait()
        state["open"] -= 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(int(body["max_tokens"])):
            await response.write(f"data: {i}\n\n".encode())
            await asyncio.sleep(0.001)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/completions", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/v1/completions", state
    await runner.cleanup()


async def test_open_loop_does_not_wait_for_answers(
    slow_server: tuple[str, dict[str, int]],
) -> None:
    url, state = slow_server
    n = 30
    schedule = Schedule(
        "test",
        np.linspace(0.0, 0.3, n),
        np.full(n, 5, dtype=np.int64),
        np.full(n, 4, dtype=np.int64),
        0.3,
    )
    outcomes, _ = await run_open_loop(url, schedule, stream=True, timeout_s=60)
    # The server answered nothing until all 30 had arrived: a closed loop would have sent
    # one (or a few) and waited; this one sent all at their times.
    assert state["peak"] == n
    report = summarize(outcomes, 0.3, 1.0)
    assert report["ok"] == n and report["errors"] == 0
    assert report["chunks_per_request"]["median"] >= 1
    assert report["ttft_ms"]["median"] <= report["latency_ms"]["median"]


def test_cli_json_report_with_errors_counted(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = "".join(f"2023-11-16 18:00:00.{i}00,10,2\n" for i in range(5))
    path.write_text(AZURE_HEADER + rows)
    result = CliRunner().invoke(
        bench_main,
        ["load", "--url", "http://127.0.0.1:9/nothing", "--trace", str(path),
         "--duration", "2", "-o", "json", "--timeout", "5"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["requests"] == 5 and report["errors_by_kind"] == {"connect": 5}
    assert report["source"] == "azure:t.csv"


def test_cli_needs_one_source() -> None:
    result = CliRunner().invoke(bench_main, ["load", "--url", "http://x/"])
    assert result.exit_code == 2 and "--trace CSV or --servegen DIR" in result.output


@pytest.mark.parametrize(
    ("args", "refused"),
    [
        (["--url", "127.0.0.1:8080/s/default/chat/"], "--url"),  # no scheme: every request failed
        (["--url", "notaurl"], "--url"),
        (["--url", "http://"], "--url"),
        (["--url", "http://x/", "--rate-scale", "nan"], "--rate-scale"),  # was "no requests"
        (["--url", "http://x/", "--duration", "nan"], "--duration"),
        (["--url", "http://x/", "--timeout", "nan"], "--timeout"),
    ],
)
def test_cli_refuses_a_url_or_number_it_cannot_use_before_sending(
    tmp_path: Path, args: list[str], refused: str
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(AZURE_HEADER + "2023-11-16 18:00:00.100,10,2\n")
    result = CliRunner().invoke(bench_main, ["load", *args, "--trace", str(path)])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{refused}'" in result.output


def test_cli_names_a_missing_trace_file() -> None:
    result = CliRunner().invoke(bench_main, ["load", "--url", "http://x/", "--trace", "/nope.csv"])
    assert result.exit_code == 2 and "'/nope.csv' does not exist" in result.output
