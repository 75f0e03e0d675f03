"""A managed counter: counts, checkpoints its count, and resumes from the checkpoint.

    aiwo run counter --restart on-failure -- python -m sdk.examples.counter --count-log /tmp/c

The agent starts it (a launch spec) with $AIWO_CHECKPOINT_DIR set. It prints every count it
produces (one per line: the agent's log, `aiwo logs counter`), and appends it to --count-log
when given, so that a test can check that, across stops, restarts and migrations, no count is
lost or repeated. On SIGTERM it writes its checkpoint and exits 0 — the way a workload without
an SDK handler is migrated; with --attach it also follows the SDK's CHECKPOINT directive.

Checkpoint: $AIWO_CHECKPOINT_DIR/counter.json, {"count": N, "sha256": ...}, written
atomically. A checkpoint that does not verify makes it exit with code 3: it never starts from
zero over a damaged checkpoint. With no checkpoint at all it starts at 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import signal
import sys
from pathlib import Path

from sdk import AiwoError, AttachSession, Client, Directive, DirectiveKind

CHECKPOINT_FILE = "counter.json"
EXIT_CORRUPT_CHECKPOINT = 3


class CorruptCheckpoint(Exception):
    pass


def _seal(count: int) -> str:
    return hashlib.sha256(f"counter:{count}".encode()).hexdigest()


def load(directory: Path) -> int:
    """The count to continue after; 0 when there is no checkpoint."""
    path = directory / CHECKPOINT_FILE
    if not path.exists():
        return 0
    try:
        data = json.loads(path.read_text())
        count = int(data["count"])
        if data["sha256"] != _seal(count) or count < 0:
            raise ValueError("checksum mismatch")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptCheckpoint(f"{path}: {exc}") from exc
    return count


def save(directory: Path, count: int, damaged: bool = False) -> None:
    """Atomically: a reader (or a migration) sees the old checkpoint or the new one.

    `damaged` writes one whose seal does not match (tests: a checkpoint gone bad)."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (CHECKPOINT_FILE + ".tmp")
    with open(tmp, "w") as f:
        json.dump({"count": count, "sha256": "0" * 64 if damaged else _seal(count)}, f)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(directory / CHECKPOINT_FILE)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself survives a crash
    finally:
        os.close(fd)


class Counter:
    def __init__(
        self, directory: Path, count_log: Path | None, start: int, damaged: bool = False
    ) -> None:
        self.damaged = damaged
        self.directory = directory
        self.count_log = count_log
        self.count = start

    def step(self) -> None:
        # One count is produced whole: signals only set a flag the loop reads between steps.
        self.count += 1
        print(self.count, flush=True)
        if self.count_log is not None:
            with open(self.count_log, "a") as f:
                f.write(f"{self.count}\n")

    def checkpoint(self) -> None:
        save(self.directory, self.count, self.damaged)
        print(f"checkpoint {self.count}", file=sys.stderr, flush=True)


async def attach(counter: Counter) -> tuple[Client, AttachSession] | None:
    """Follow CHECKPOINT directives through the SDK (needs AIWO_WORKLOAD, AIWO_CONTROLLER)."""
    namespace, _, name = os.environ.get("AIWO_WORKLOAD", "").partition("/")
    if not name:
        print("--attach: AIWO_WORKLOAD is not set", file=sys.stderr)
        return None
    client = await Client.connect(os.environ.get("AIWO_CONTROLLER"))

    def on_directive(directive: Directive) -> None:
        if directive.kind == DirectiveKind.CHECKPOINT:
            counter.checkpoint()

    session = client.get_handle(name, namespace=namespace).attach(on_directive=on_directive)
    await session.start()
    try:
        await session.wait_connected(10)
        print(f"attached as {namespace}/{name}", file=sys.stderr, flush=True)
    except AiwoError as exc:  # count anyway: SIGTERM still checkpoints
        print(f"not attached: {exc}", file=sys.stderr, flush=True)
    return client, session


async def main() -> int:
    p = argparse.ArgumentParser(description="A counter that checkpoints and resumes.")
    p.add_argument("--count-log", type=Path, default=None, help="Append each count here too.")
    p.add_argument(
        "--checkpoint-dir", type=Path, default=None, help="Default: $AIWO_CHECKPOINT_DIR."
    )
    p.add_argument("--interval-s", type=float, default=0.05, help="Between counts.")
    p.add_argument("--limit", type=int, default=0, help="Stop (exit 0) after this count.")
    p.add_argument(
        "--checkpoint-delay-s",
        type=float,
        default=0.0,
        help="Take this long to checkpoint on SIGTERM (a slow checkpoint).",
    )
    p.add_argument(
        "--no-checkpoint",
        action="store_true",
        help="Exit on SIGTERM without writing a checkpoint (a workload that has none).",
    )
    p.add_argument("--attach", action="store_true", help="Follow CHECKPOINT directives.")
    p.add_argument(
        "--damage-checkpoint",
        action="store_true",
        help="Write checkpoints that do not verify (for tests of a damaged checkpoint).",
    )
    args = p.parse_args()
    directory = args.checkpoint_dir or Path(os.environ.get("AIWO_CHECKPOINT_DIR", ""))
    if not str(directory):
        print(
            "no checkpoint directory: set AIWO_CHECKPOINT_DIR or --checkpoint-dir", file=sys.stderr
        )
        return 2
    try:
        start = load(directory)
    except CorruptCheckpoint as exc:
        print(f"corrupt checkpoint, not starting over from zero: {exc}", file=sys.stderr)
        return EXIT_CORRUPT_CHECKPOINT
    print(f"resumed after {start}" if start else "starting at 1", file=sys.stderr, flush=True)
    counter = Counter(directory, args.count_log, start, args.damage_checkpoint)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    attached = await attach(counter) if args.attach else None
    while not stop.is_set():
        counter.step()
        if args.limit and counter.count >= args.limit:
            counter.checkpoint()
            return 0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.interval_s)
    if args.no_checkpoint:
        print("stopping without a checkpoint", file=sys.stderr, flush=True)
        return 0
    if args.checkpoint_delay_s:
        await asyncio.sleep(args.checkpoint_delay_s)
    counter.checkpoint()
    if attached is not None:
        client, session = attached
        with contextlib.suppress(Exception):
            await session.close()
            await client.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
