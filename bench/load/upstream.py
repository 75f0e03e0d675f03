"""A stand-in LLM server for `aiwo bench gateway`: a fixed time to the first token, then one
token every `tpot_ms`, streamed as server-sent events (or one JSON answer when not streaming).

python -m bench.load.upstream --port 9000 --ttft-ms 20 --tpot-ms 5 --max-tokens 16
Reads {"max_tokens": N, "stream": bool} from a JSON body when there is one; N is capped.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import uvloop
from aiohttp import web


def make_app(ttft_ms: float, tpot_ms: float, max_tokens: int) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            params = json.loads(body) if body else {}
        except ValueError:
            params = {}
        tokens = max(1, min(max_tokens, int(params.get("max_tokens", max_tokens))))
        stream = bool(params.get("stream", False)) or "text/event-stream" in request.headers.get(
            "Accept", ""
        )
        await asyncio.sleep(ttft_ms / 1000.0)
        if not stream:
            await asyncio.sleep(tpot_ms * (tokens - 1) / 1000.0)
            return web.json_response({"tokens": tokens})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(tokens):
            if i:
                await asyncio.sleep(tpot_ms / 1000.0)
            await response.write(f'data: {{"token": {i}}}\n\n'.encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttft-ms", type=float, default=20.0)
    parser.add_argument("--tpot-ms", type=float, default=5.0)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()
    uvloop.install()
    web.run_app(
        make_app(args.ttft_ms, args.tpot_ms, args.max_tokens),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        backlog=2048,
    )


if __name__ == "__main__":
    main()
