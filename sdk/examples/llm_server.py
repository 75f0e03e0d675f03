"""An HTTP server that behaves like an LLM engine, for `aiwo serve` and `aiwo up --demo`.

It knows nothing of aiwo (no SDK import): it listens on $AIWO_PORT, answers GET /healthz
with 200 once "loaded", and serves at most --max-concurrency requests at a time (default 4);
the others wait in its queue, as in an engine whose batch is full. Each request is a prefill
delay, then streamed tokens whose gap grows with the batch (continuous batching):

    curl -N -d '{"prompt_tokens": 512, "max_tokens": 64, "stream": true}' http://HOST:PORT/

Body (JSON, all optional): prompt_tokens (or a "prompt" string, 4 characters a token),
max_tokens, stream. With "stream" (or Accept: text/event-stream) tokens come as server-sent
events (`data: {...}` lines, then `data: [DONE]`); else one JSON object at the end.

Speeds come from gpumodel.serving when that module is installed (an 8B model on one H100,
fitted to ML.ENERGY and Splitwise data), else from the sourced defaults below. SIGTERM stops
accepting, lets the requests in flight finish (up to --drain-s), then exits 0.

Options (flags, or the environment variable in brackets): --max-concurrency [LLM_MAX_CONCURRENCY],
--load-s [LLM_LOAD_S] seconds before /healthz answers 200 (a cold start), --max-queue
[LLM_MAX_QUEUE] waiting requests before 503, --time-scale [LLM_TIME_SCALE] multiplies every
delay, --port [AIWO_PORT].
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

# Sourced defaults, used when gpumodel.serving is absent (/work/shared/data/gpu-models.md
# section 5, "Simulator defaults" for a 7B model on an H100):
# batch-1 decode ~5-6 ms/token (roofline, 13.5 GB of FP16 weights at 3.35 TB/s, eta 0.7-0.8),
# step(B) = t1 x (1 + B/100) (fits Splitwise's decode rows), TTFT = 5 ms + n_in / R with
# R = 40-57k prompt tokens/s.
_DECODE_T1_MS = 5.5
_DECODE_BATCH_SCALE = 100.0
_TTFT_BASE_MS = 5.0
_PREFILL_TOKENS_PER_S = 40_000.0

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024


class Speeds:
    """Prefill and decode step times (ms) of one replica."""

    def __init__(self) -> None:
        self.model: Any = None
        try:
            from gpumodel import serving  # type: ignore[attr-defined, unused-ignore]

            self.model = serving.H100_8B
            self.source = f"gpumodel.serving {self.model.name}"
        except (ImportError, AttributeError):
            self.source = "gpu-models.md section 5 defaults (7B, H100)"

    def prefill_ms(self, prompt_tokens: int) -> float:
        if self.model is not None:
            return float(self.model.prefill_ms(prompt_tokens))
        return _TTFT_BASE_MS + 1000.0 * prompt_tokens / _PREFILL_TOKENS_PER_S

    def decode_step_ms(self, batch: int) -> float:
        if self.model is not None:
            return float(self.model.decode_step_ms(batch))
        return _DECODE_T1_MS * (1.0 + batch / _DECODE_BATCH_SCALE)


@dataclass
class Config:
    port: int
    host: str = "0.0.0.0"
    max_concurrency: int = 4
    load_s: float = 0.0
    max_queue: int = 1024
    time_scale: float = 1.0
    drain_s: float = 30.0
    default_prompt_tokens: int = 512
    default_max_tokens: int = 128


class Engine:
    """At most `max_concurrency` requests run; the rest wait in FIFO order."""

    def __init__(self, config: Config, speeds: Speeds) -> None:
        self.config = config
        self.speeds = speeds
        self.slots = asyncio.Semaphore(config.max_concurrency)
        self.waiting = 0
        self.running = 0  # the batch: requests past their queue wait
        self.served = 0
        self.ready_at = time.monotonic() + config.load_s
        self.idle = asyncio.Event()  # no request running or waiting (SIGTERM waits for it)
        self.idle.set()

    @property
    def ready(self) -> bool:
        return time.monotonic() >= self.ready_at

    async def sleep_ms(self, ms: float) -> None:
        await asyncio.sleep(ms * self.config.time_scale / 1000.0)


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    """(method, path, headers lower-cased, body), or None at the end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise ValueError("headers too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise ValueError("bad request line")
    method, path, _version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
            if len(body) > MAX_BODY_BYTES:
                raise ValueError("body too large")
    elif headers.get("content-length"):
        length = int(headers["content-length"])
        if length > MAX_BODY_BYTES:
            raise ValueError("body too large")
        body = await reader.readexactly(length)
    return method, path, headers, body


def _head(status: int, reason: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _simple(status: int, reason: str, body: bytes, content_type: str = "text/plain") -> bytes:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    return _head(status, reason, headers) + body


def _parse_job(config: Config, body: bytes) -> tuple[int, int, bool]:
    """(prompt tokens, output tokens, stream) from the request body."""
    data: Any = json.loads(body) if body.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    prompt = data.get("prompt")
    prompt_tokens = data.get("prompt_tokens")
    if prompt_tokens is None:
        prompt_tokens = (
            len(prompt) // 4 if isinstance(prompt, str) else config.default_prompt_tokens
        )
    max_tokens = data.get("max_tokens", config.default_max_tokens)
    for name, value in (("prompt_tokens", prompt_tokens), ("max_tokens", max_tokens)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1_000_000:
            raise ValueError(f"{name}: an integer 0..1000000")
    return int(prompt_tokens), max(int(max_tokens), 1), bool(data.get("stream", False))


async def _generate(
    engine: Engine, writer: asyncio.StreamWriter, prompt_tokens: int, max_tokens: int, stream: bool
) -> None:
    arrived = time.monotonic()
    engine.idle.clear()
    engine.waiting += 1
    try:
        await engine.slots.acquire()
    finally:
        engine.waiting -= 1
        if not engine.running and not engine.waiting:
            engine.idle.set()  # cancelled while waiting (the client left)
    engine.running += 1
    engine.idle.clear()
    try:
        queued_ms = (time.monotonic() - arrived) * 1000.0
        await engine.sleep_ms(engine.speeds.prefill_ms(prompt_tokens))
        if stream:
            writer.write(
                _head(200, "OK", {"Content-Type": "text/event-stream",
                                  "Cache-Control": "no-cache", "Transfer-Encoding": "chunked"})
            )  # fmt: skip
        for index in range(max_tokens):
            if index:
                # The step time of the batch now running: more requests, slower tokens.
                await engine.sleep_ms(engine.speeds.decode_step_ms(engine.running))
            if stream:
                event = f'data: {{"index": {index}, "text": "tok{index} "}}\n\n'.encode()
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
        summary = {
            "text": " ".join(f"tok{i}" for i in range(max_tokens)),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": max_tokens,
            "queued_ms": round(queued_ms, 1),
            "replica": os.environ.get("AIWO_REPLICA", ""),
        }
        if stream:
            done = b"data: [DONE]\n\n"
            writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
        else:
            writer.write(_simple(200, "OK", json.dumps(summary).encode(), "application/json"))
        await writer.drain()
        engine.served += 1
    finally:
        engine.running -= 1
        engine.slots.release()
        if not engine.running and not engine.waiting:
            engine.idle.set()


async def _handle(
    engine: Engine, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                request = await _read_request(reader)
            except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                writer.write(_simple(400, "Bad Request", f"{exc}\n".encode()))
                await writer.drain()
                return
            if request is None:
                return
            method, path, headers, body = request
            route = path.split("?", 1)[0]
            if route == "/healthz":
                if engine.ready:
                    writer.write(_simple(200, "OK", b"ok\n"))
                else:
                    writer.write(_simple(503, "Service Unavailable", b"loading\n"))
            elif route == "/stats":
                stats = {"running": engine.running, "waiting": engine.waiting,
                         "served": engine.served, "pid": os.getpid(),
                         "speeds": engine.speeds.source}  # fmt: skip
                writer.write(_simple(200, "OK", json.dumps(stats).encode(), "application/json"))
            elif method not in ("GET", "POST"):
                writer.write(_simple(405, "Method Not Allowed", b"GET or POST\n"))
            elif not engine.ready:
                writer.write(_simple(503, "Service Unavailable", b"loading\n"))
            elif engine.waiting >= engine.config.max_queue:
                writer.write(_simple(503, "Service Unavailable", b"queue full\n"))
            else:
                try:
                    prompt_tokens, max_tokens, stream = _parse_job(engine.config, body)
                except ValueError as exc:
                    writer.write(_simple(400, "Bad Request", f"{exc}\n".encode()))
                    await writer.drain()
                    continue
                stream = stream or "text/event-stream" in headers.get("accept", "")
                await _generate(engine, writer, prompt_tokens, max_tokens, stream)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
    except (ConnectionError, OSError):
        pass  # the client went away
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def serve(config: Config) -> int:
    engine = Engine(config, Speeds())
    connections: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.add(task)
        try:
            await _handle(engine, reader, writer)
        finally:
            connections.discard(task)

    server = await asyncio.start_server(
        on_connect, config.host, config.port, limit=MAX_HEADER_BYTES, reuse_address=True
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"llm_server listening on {config.host}:{config.port}, {config.max_concurrency} at a"
        f" time, ready in {config.load_s:g} s, speeds from {engine.speeds.source}",
        flush=True,
    )
    await stop.wait()
    server.close()  # no new connections; the ones open finish their requests
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(engine.idle.wait(), config.drain_s)
    print(f"llm_server stopping: served {engine.served}", flush=True)
    for task in list(connections):
        task.cancel()
    return 0


def parse_args(argv: list[str] | None = None) -> Config:
    env = os.environ
    parser = argparse.ArgumentParser(description="An HTTP server that behaves like an LLM engine.")
    parser.add_argument("--port", type=int, default=int(env.get("AIWO_PORT", "8000")))
    parser.add_argument("--host", default=env.get("LLM_HOST", "0.0.0.0"))
    parser.add_argument(
        "--max-concurrency", type=int, default=int(env.get("LLM_MAX_CONCURRENCY", "4"))
    )
    parser.add_argument("--load-s", type=float, default=float(env.get("LLM_LOAD_S", "0")))
    parser.add_argument("--max-queue", type=int, default=int(env.get("LLM_MAX_QUEUE", "1024")))
    parser.add_argument("--time-scale", type=float, default=float(env.get("LLM_TIME_SCALE", "1")))
    parser.add_argument("--drain-s", type=float, default=float(env.get("LLM_DRAIN_S", "30")))
    parser.add_argument("--prompt-tokens", type=int, default=512, help="When a body has none.")
    parser.add_argument("--max-tokens", type=int, default=128, help="When a body has none.")
    args = parser.parse_args(argv)
    if args.max_concurrency < 1:
        parser.error("--max-concurrency must be >= 1")
    if args.load_s < 0 or args.time_scale < 0 or args.drain_s < 0:
        parser.error("--load-s, --time-scale and --drain-s must be >= 0")
    return Config(
        port=args.port, host=args.host, max_concurrency=args.max_concurrency, load_s=args.load_s,
        max_queue=args.max_queue, time_scale=args.time_scale, drain_s=args.drain_s,
        default_prompt_tokens=args.prompt_tokens, default_max_tokens=args.max_tokens,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    sys.exit(asyncio.run(serve(parse_args(argv))))


if __name__ == "__main__":
    main()
