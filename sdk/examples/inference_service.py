"""A latency-critical inference service on aiwo, with simulated requests.

    python -m sdk.examples.inference_service --controller 127.0.0.1:7070 --duration 60

It registers with priority "high", a p99 latency SLO, a quarter of one GPU and two model
variants (fp16, and a cheaper int8 build), reports its latencies every second and
follows the controller's directives through a callback:

    THROTTLE        serve with fewer concurrent slots (the controller's `factor`)
    UNTHROTTLE      back to full concurrency
    SWITCH_VARIANT  swap the simulated model (int8 is faster and uses less GPU)
    CHECKPOINT      snapshot the warm cache (simulated)
    PREEMPT         stop serving until placed again
    PLACEMENT       (re)start serving where the controller put it

The request model: each latency is the model's service time (log-normal spread) plus a
queueing wait whose mean grows like ρ/(1-ρ) as offered load ρ nears capacity (M/M/1), so
throttling and variant switches visibly move the reported p99. At the default load the
fp16 p99 sits around 60-95 ms, under the 100 ms target.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, field

from sdk import (
    AiwoError,
    AlreadyExists,
    ControllerUnavailable,
    Directive,
    DirectiveKind,
    ModelVariant,
    Resources,
    SloHints,
)
from sdk.examples._common import connect, parser, run, say, sleep_or_stop, stop_event, why

P99_TARGET_MS = 100.0
SHARE_MILLI = 250  # a quarter of one GPU
# Service time per request (ms) and the requests one full-concurrency replica completes
# per second, per variant. int8 is ~35 % faster at a small accuracy cost.
SERVICE_MS = {"fp16": 18.0, "int8": 11.7}
CAPACITY_RPS = {"fp16": 260.0, "int8": 400.0}
VARIANTS = (
    ModelVariant("fp16", Resources(gpus=1, milli_gpu=SHARE_MILLI), latency_factor=1.0),
    ModelVariant("int8", Resources(gpus=1, milli_gpu=150), latency_factor=0.65, accuracy_cost=0.01),
)
SAMPLES_PER_REPORT = 200  # latencies sent per second, a sample of all requests


@dataclass
class SimulatedServer:
    name: str
    variant: str = "fp16"
    concurrency: float = 1.0  # THROTTLE factor
    serving: bool = False  # until the first placement
    offered_rps: float = 100.0
    rng: random.Random = field(init=False)
    tick_no: int = 0

    def __post_init__(self) -> None:
        # Seeded by name: reproducible, yet two replicas do not report identical numbers.
        self.rng = random.Random(zlib.crc32(self.name.encode()))

    def tick(self) -> tuple[list[float], float, int]:
        """One second of traffic: (latency samples in ms, throughput/s, queue depth)."""
        self.tick_no += 1
        # A slow daily-like wave so the load is not constant.
        offered = self.offered_rps * (1.0 + 0.25 * math.sin(self.tick_no / 20))
        if not self.serving:
            return [], 0.0, int(offered)
        capacity = CAPACITY_RPS[self.variant] * max(0.05, self.concurrency)
        load = min(offered / capacity, 0.98)
        service_ms = SERVICE_MS[self.variant]
        wait_ms = service_ms * load / (1.0 - load)
        samples = [
            service_ms * self.rng.lognormvariate(0.0, 0.25) + self.rng.expovariate(1.0 / wait_ms)
            for _ in range(SAMPLES_PER_REPORT)
        ]
        queue_depth = round(load / (1.0 - load))
        return samples, min(offered, capacity), queue_depth

    def handle(self, directive: Directive) -> None:
        """Change behaviour for one directive; raising makes the SDK send a failed ack."""
        kind = directive.kind
        if kind in (DirectiveKind.PLACEMENT, DirectiveKind.MIGRATE):
            self.serving = True
            say(self.name, f"serving on {directive.node} GPUs {list(directive.gpus)}")
        elif kind == DirectiveKind.THROTTLE:
            self.concurrency = min(1.0, max(0.0, directive.factor))
            say(self.name, f"throttled to {self.concurrency:.0%}{why(directive)}")
        elif kind == DirectiveKind.UNTHROTTLE:
            self.concurrency = 1.0
            say(self.name, "unthrottled")
        elif kind == DirectiveKind.SWITCH_VARIANT:
            if directive.variant not in SERVICE_MS:
                raise ValueError(f"unknown variant {directive.variant!r}")
            self.variant = directive.variant
            say(self.name, f"switched to {self.variant}{why(directive)}")
        elif kind == DirectiveKind.CHECKPOINT:
            say(self.name, "warm-cache snapshot written")
        elif kind == DirectiveKind.PREEMPT:
            self.serving = False
            say(self.name, f"preempted, draining{why(directive)}")


async def main() -> int:
    args = parser("A latency-critical inference service.", "chat").parse_args()
    stop = stop_event(args.duration)
    client = await connect(args.controller, args.name, stop)
    if client is None:
        return 0
    server = SimulatedServer(args.name)
    slo = SloHints(p99_latency_ms=P99_TARGET_MS)
    resources = Resources(gpus=1, milli_gpu=SHARE_MILLI)
    async with client:
        try:
            try:
                handle = await client.register(
                    args.name,
                    namespace=args.namespace,
                    priority="high",
                    slo=slo,
                    resources=resources,
                    variants=VARIANTS,
                    service=args.name,
                )
            except AlreadyExists:  # left over from an earlier run with other settings
                handle = client.get_handle(args.name, namespace=args.namespace)
                await handle.update(
                    priority="high", slo=slo, resources=resources, variants=VARIANTS
                )
            say(args.name, f"registered {handle.key} (high, p99 ≤ {P99_TARGET_MS:g} ms)")
            async with handle.attach(on_directive=server.handle) as session:
                while not stop.is_set():
                    latencies, throughput, queue_depth = server.tick()
                    await session.report(latencies, throughput, queue_depth)
                    await sleep_or_stop(stop, 1.0)
            if not args.keep:
                await handle.deregister()
                say(args.name, "deregistered")
        except ControllerUnavailable as exc:
            say(args.name, f"{exc}; stopping")
            return 0 if stop.is_set() else 1  # the controller went first at shutdown
        except AiwoError as exc:
            say(args.name, str(exc))
            return 1
    return 0


if __name__ == "__main__":
    run(main())
