"""The example LLM-like server as a real process: a cold start, its concurrency limit and
queue, streamed tokens, and a graceful stop that finishes the requests in flight."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from sdk.examples.llm_server import Speeds
from tests.e2e.cluster_helpers import wait_for
from tests.helpers import free_port


def start(*args: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sdk.examples.llm_server", "--port", str(port), *args],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    assert "listening" in process.stdout.readline()  # the socket is bound by then
    return process, port


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], int]]:
    args: tuple[str, ...] = getattr(request, "param", ())
    process, port = start(*args)
    yield process, port
    process.kill()
    process.wait(10)


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post(port: int, body: dict[str, Any], accept: str = "") -> tuple[int, bytes, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/completions", data=json.dumps(body).encode(),
        headers={"Accept": accept} if accept else {},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, reply.read(), reply.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), ""


def test_speeds_grow_with_the_batch() -> None:
    speeds = Speeds()
    assert speeds.decode_step_ms(8) > speeds.decode_step_ms(1) > 0
    assert speeds.prefill_ms(2048) > speeds.prefill_ms(128) > 0


@pytest.mark.parametrize("server", [("--load-s", "1.5")], indirect=True)
def test_healthz_answers_200_once_loaded(server: tuple[subprocess.Popen[str], int]) -> None:
    _, port = server
    assert get(port, "/healthz")[0] == 503  # loading: a cold start
    assert post(port, {"max_tokens": 1})[0] == 503
    wait_for(lambda: get(port, "/healthz")[0] == 200, 20)


def test_streams_tokens_as_server_sent_events(server: tuple[subprocess.Popen[str], int]) -> None:
    _, port = server
    status, body, content_type = post(port, {"prompt_tokens": 64, "max_tokens": 5, "stream": True})
    assert status == 200 and content_type == "text/event-stream"
    events = [line for line in body.decode().split("\n") if line.startswith("data: ")]
    assert [json.loads(e[6:])["index"] for e in events[:-1]] == [0, 1, 2, 3, 4]
    assert events[-1] == "data: [DONE]"
    status, body, _ = post(port, {"prompt": "x" * 400, "max_tokens": 3})
    reply = json.loads(body)
    assert status == 200 and reply["completion_tokens"] == 3 and reply["prompt_tokens"] == 100
    assert post(port, {"max_tokens": "many"})[0] == 400


@pytest.mark.parametrize("server", [("--time-scale", "20")], indirect=True)
def test_at_most_n_at_a_time_the_rest_wait(server: tuple[subprocess.Popen[str], int]) -> None:
    """8 requests of ~2 s each (20x slowed) against 4 slots: 4 run, 4 wait, all succeed."""
    _, port = server
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(post(port, {"max_tokens": 16})[0]))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    wait_for(lambda: json.loads(get(port, "/stats")[1])["waiting"] == 4, 30)
    assert json.loads(get(port, "/stats")[1])["running"] == 4
    for thread in threads:
        thread.join(120)
    assert results == [200] * 8
    assert json.loads(get(port, "/stats")[1])["served"] == 8


@pytest.mark.parametrize("server", [("--time-scale", "20")], indirect=True)
def test_sigterm_finishes_the_requests_in_flight(
    server: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = server
    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(post(port, {"max_tokens": 16})[0]))
    thread.start()
    wait_for(lambda: json.loads(get(port, "/stats")[1])["running"] == 1, 30)
    process.send_signal(signal.SIGTERM)
    thread.join(120)
    assert results == [200]
    assert process.wait(30) == 0
