"""The live autoscaling goal on real processes (issue 10): a server that serves 4 requests at
a time, run with `aiwo serve --replicas 1-4`, offered 10 requests/s for 120 s through the
gateway; does it reach >= 3 replicas, fail nothing, and come back to 1 within 5 minutes of
quiet?

    .venv/bin/python -m tests.e2e.measure_serving_live [--rate 10] [--load-s 120] [-o json]

Each request asks for 1,000 prompt tokens and 200 output tokens (about the Azure
conversation trace's medians: gpu-models.md section 5): about 1.2 s on the example server
at a batch of 4, so 10 req/s keeps about 12 in flight, 3 replicas' worth. The load is the
gateway branch's open-loop generator (bench/load), arrivals evenly spaced. Prints the
replica count over time, the scale events, and the load report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.load.arrivals import Schedule
from bench.load.generator import run_open_loop
from bench.load.report import summarize
from sdk import SyncAdminClient
from tests.e2e.cluster_helpers import cli
from tests.e2e.serving_helpers import LLM_SERVER, service_url, serving_cluster, wait_settled

PROMPT_TOKENS = 1000
OUTPUT_TOKENS = 200


def constant_rate(rate_per_s: float, duration_s: float) -> Schedule:
    offsets = np.arange(0.0, duration_s, 1.0 / rate_per_s)
    count = offsets.size
    return Schedule(
        f"constant {rate_per_s:g}/s",
        offsets,
        np.full(count, PROMPT_TOKENS, dtype=np.int64),
        np.full(count, OUTPUT_TOKENS, dtype=np.int64),
        duration_s,
    )


class Sampler(threading.Thread):
    """The service's replica counts once a second: (seconds since start, ready, desired)."""

    def __init__(self, admin: SyncAdminClient, name: str) -> None:
        super().__init__(daemon=True)
        self.admin, self.name = admin, name
        self.started = time.monotonic()
        self.samples: list[tuple[float, int, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            service = self.admin.get_service(self.name)
            elapsed = time.monotonic() - self.started
            self.samples.append((round(elapsed, 1), service.ready, service.desired))
            self.stop.wait(1.0)


def measure(rate_per_s: float, load_s: float, quiet_limit_s: float) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="aiwo-live-")) / "state"
    with serving_cluster(state, nodes=2) as cluster:
        cli(cluster, "serve", "live", "--replicas", "1-4", "--milli-gpu", "250",
            "--env", "LLM_MAX_CONCURRENCY=4", "--", *LLM_SERVER)  # fmt: skip
        admin = SyncAdminClient.connect(cluster.controller_address)
        try:
            wait_settled(admin, "live", 1, 60, "1 replica ready")
            sampler = Sampler(admin, "live")
            sampler.start()
            outcomes, wall_s = asyncio.run(
                run_open_loop(service_url(cluster, "live"), constant_rate(rate_per_s, load_s))
            )
            quiet_from = time.monotonic() - sampler.started
            back_to_1_s = None
            deadline = time.monotonic() + quiet_limit_s
            while time.monotonic() < deadline:
                service = admin.get_service("live")
                if service.ready == 1 and service.desired == 1 and len(service.replicas) == 1:
                    back_to_1_s = round(time.monotonic() - sampler.started - quiet_from, 1)
                    break
                time.sleep(1.0)
            sampler.stop.set()
            sampler.join()
            events = admin.list_events("service/default/live", 100)
        finally:
            admin.close()
    during = [s for s in sampler.samples if s[0] <= quiet_from]
    return {
        "rate_per_s": rate_per_s,
        "load_s": load_s,
        "request": {"prompt_tokens": PROMPT_TOKENS, "max_tokens": OUTPUT_TOKENS},
        "max_ready_during_load": max((s[1] for s in during), default=0),
        "max_desired_during_load": max((s[2] for s in during), default=0),
        "first_3_ready_s": next((s[0] for s in sampler.samples if s[1] >= 3), None),
        "back_to_1_after_quiet_s": back_to_1_s,
        "quiet_limit_s": quiet_limit_s,
        "load": summarize(outcomes, load_s, wall_s),
        "scale_events": [
            {"t": round(e.time_unix, 1), "kind": e.kind, "message": e.message}
            for e in reversed(events)
            if e.kind == "service_scaled"
        ],
        "replicas_over_time": sampler.samples[::5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=10.0, help="Requests per second.")
    parser.add_argument("--load-s", type=float, default=120.0, help="Seconds of load.")
    parser.add_argument("--quiet-limit-s", type=float, default=420.0, help="Wait for 1 replica.")
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text")
    args = parser.parse_args()
    result = measure(args.rate, args.load_s, args.quiet_limit_s)
    if args.output == "json":
        print(json.dumps(result, indent=2))
        return
    load = result["load"]
    print(f"offered {args.rate:g} req/s for {args.load_s:g} s: {load['requests']} requests,"
          f" {load['ok']} ok, {load['errors']} failed {load['errors_by_kind'] or ''}")  # fmt: skip
    print(f"replicas: max {result['max_ready_during_load']} ready during the load"
          f" (first >= 3 at {result['first_3_ready_s']} s);"
          f" back to 1 {result['back_to_1_after_quiet_s']} s after it")  # fmt: skip
    print(f"latency ms: {load['latency_ms']}")
    for event in result["scale_events"]:
        print(f"  {event['message']}")


if __name__ == "__main__":
    main()
