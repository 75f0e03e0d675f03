"""A batch training job on aiwo, with a simulated training loop.

    python -m sdk.examples.training_job --controller 127.0.0.1:7070 --gpus 4 --duration 60

It registers with priority "batch", whole GPUs and a deadline, trains only while placed,
reports its throughput (samples/s) every second, and follows directives by iterating
over them (the other form; the inference example uses a callback):

    THROTTLE / UNTHROTTLE  train at the controller's `factor` of full speed, or full speed
    CHECKPOINT             write a checkpoint now
    PREEMPT                checkpoint, then pause until placed again
    PLACEMENT / MIGRATE    (re)start from the latest checkpoint

Checkpoints are JSON files in $AIWO_CHECKPOINT_DIR (else a temporary directory), so a
restarted job resumes at the step it saved.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sdk import (
    AiwoError,
    AlreadyExists,
    AttachSession,
    ControllerUnavailable,
    Directive,
    DirectiveKind,
    Resources,
    SloHints,
)
from sdk.examples._common import connect, parser, run, say, sleep_or_stop, stop_event, why

SAMPLES_PER_GPU_S = 1_250.0  # simulated samples/s of one GPU at full speed
SAMPLES_PER_STEP = 512


def checkpoint_dir(name: str) -> Path:
    base = os.environ.get("AIWO_CHECKPOINT_DIR") or Path(tempfile.gettempdir()) / "aiwo-checkpoints"
    path = Path(base) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class SimulatedTrainer:
    name: str
    gpus: int
    directory: Path
    step: int = 0
    speed: float = 1.0  # THROTTLE factor
    placed: bool = False
    carry: float = 0.0  # fractional steps between ticks

    def resume(self) -> None:
        latest = self.directory / "latest.json"
        if latest.exists():
            self.step = int(json.loads(latest.read_text())["step"])
            say(self.name, f"resumed from step {self.step}")

    def checkpoint(self, why: str) -> Path:
        path = self.directory / f"step-{self.step:08d}.json"
        data = json.dumps({"step": self.step, "time_unix": time.time(), "why": why})
        path.write_text(data)
        tmp = self.directory / "latest.json.tmp"
        tmp.write_text(data)
        tmp.replace(self.directory / "latest.json")  # atomic: never a half-written latest
        say(self.name, f"checkpoint at step {self.step} -> {path} ({why})")
        return path

    def tick(self, seconds: float) -> float:
        """Train for `seconds`; return the throughput in samples/s."""
        if not self.placed:
            return 0.0
        rate = SAMPLES_PER_GPU_S * self.gpus * self.speed
        self.carry += rate * seconds / SAMPLES_PER_STEP
        steps, self.carry = int(self.carry), self.carry % 1
        self.step += steps
        return rate

    def handle(self, directive: Directive) -> None:
        kind = directive.kind
        if kind in (DirectiveKind.PLACEMENT, DirectiveKind.MIGRATE):
            if not self.placed:
                self.resume()
            self.placed = True
            say(self.name, f"training on {directive.node} GPUs {list(directive.gpus)}")
        elif kind == DirectiveKind.THROTTLE:
            self.speed = min(1.0, max(0.0, directive.factor))
            say(self.name, f"throttled to {self.speed:.0%}{why(directive)}")
        elif kind == DirectiveKind.UNTHROTTLE:
            self.speed = 1.0
            say(self.name, "unthrottled")
        elif kind == DirectiveKind.CHECKPOINT:
            self.checkpoint(directive.reason or "requested")
        elif kind == DirectiveKind.PREEMPT:
            self.checkpoint("preempted")
            self.placed = False
            say(self.name, f"paused until placed again{why(directive)}")


async def follow(session: AttachSession, trainer: SimulatedTrainer) -> None:
    # Each directive is acknowledged when the loop comes back for the next one; an
    # exception here would end the session with a failed ack carrying its text.
    async for directive in session.directives():
        trainer.handle(directive)


async def main() -> int:
    p = parser("A batch training job.", "train")
    p.add_argument("--gpus", type=int, default=2, help="Whole GPUs.")
    p.add_argument("--deadline-s", type=float, default=3600.0, help="Finish within (s).")
    args = p.parse_args()
    stop = stop_event(args.duration)
    client = await connect(args.controller, args.name, stop)
    if client is None:
        return 0
    trainer = SimulatedTrainer(args.name, args.gpus, checkpoint_dir(args.name))
    slo = SloHints(deadline_unix=time.time() + args.deadline_s)
    resources = Resources(gpus=args.gpus)
    async with client:
        try:
            try:
                handle = await client.register(
                    args.name, namespace=args.namespace, priority="batch", slo=slo,
                    resources=resources,
                )  # fmt: skip
            except AlreadyExists:
                handle = client.get_handle(args.name, namespace=args.namespace)
                await handle.update(priority="batch", slo=slo, resources=resources)
            say(args.name, f"registered {handle.key} (batch, {args.gpus} GPUs)")
            async with handle.attach() as session:
                follower = asyncio.create_task(follow(session, trainer))
                while not stop.is_set() and not follower.done():
                    throughput = trainer.tick(1.0)
                    await session.report(throughput_per_s=throughput)
                    await sleep_or_stop(stop, 1.0)
                if follower.done():
                    follower.result()  # re-raise what ended the directive stream, if anything
                else:
                    follower.cancel()
            trainer.checkpoint("stopping")
            if not args.keep:
                await handle.deregister()
                say(args.name, "deregistered")
        except ControllerUnavailable as exc:
            say(args.name, f"{exc}; stopping")
            return 0 if stop.is_set() else 1
        except AiwoError as exc:
            say(args.name, str(exc))
            return 1
    return 0


if __name__ == "__main__":
    run(main())
