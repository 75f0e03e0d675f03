"""A tiny service replica for the agent's tests: listens on AIWO_PORT, answers GET /healthz
(200, or 503 while the file named by UNHEALTHY_FILE exists) and GET /env (its AIWO_*
environment as JSON). IGNORE_TERM=1: it ignores SIGTERM (to check the SIGKILL after grace)."""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        unhealthy = os.environ.get("UNHEALTHY_FILE", "")
        if self.path == "/healthz" or self.path == "/ready":
            status = 503 if unhealthy and os.path.exists(unhealthy) else 200
            body = b"ok" if status == 200 else b"not yet"
        elif self.path == "/env":
            status = 200
            seen = {k: v for k, v in os.environ.items() if k.startswith("AIWO_")}
            body = json.dumps(seen).encode()
        else:
            status, body = 404, b"no such path"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    if os.environ.get("IGNORE_TERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["AIWO_PORT"])), Handler)
    print("listening", flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
