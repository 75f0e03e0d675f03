"""One swarm worker process: many simulated agents, each with its own real gRPC stream.

Every simulated node does what `aiwo-agent` does on the wire: Register, then one Connect
stream (hello, wait for `aiwo-accepted`, telemetry every period, acks for the commands it
receives, and the power limits and clock locks it is told to set show in its next reports, as
a real GPU's would), and reconnects with jittered exponential backoff, following `aiwo-leader` and
retrying within a second on `aiwo-electing`. Each node has its own channel, so its own TCP
connection, as a real machine would.

Misbehaving nodes (`--bad-nodes`) take one of three roles: `garbage` sends reports the
controller must refuse, `flood` sends reports as fast as the stream takes them, and
`reconnect` registers and connects in a tight loop without backoff.

The worker sends its cumulative counters to the parent every `STATS_EVERY_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import grpc

from sdk._metadata import (
    ELECTION_RETRY_S,
    LEADER_METADATA_KEY,
    accepted,
    electing,
    retry_after_s,
)
from sdk.pb.aiwo.v1 import node_pb2, node_pb2_grpc, types_pb2

STATS_EVERY_S = 0.5
BACKOFF_INITIAL_S = 0.2
BACKOFF_MAX_S = 5.0
BAD_ROLES = ("garbage", "flood", "reconnect")


@dataclass(frozen=True)
class WorkerSpec:
    worker: int
    targets: tuple[str, ...]  # controller replicas; a follower names the leader
    nodes: tuple[tuple[str, str], ...]  # (name, role): role "good" or one of BAD_ROLES
    gpus_per_node: int
    period_s: float
    seed: int


@dataclass
class Counters:
    reports_sent: int = 0
    bad_sent: int = 0
    acks_sent: int = 0
    commands: int = 0
    connects: int = 0
    refused: int = 0  # streams or calls the controller refused (any status)
    invalid: int = 0  # of those, INVALID_ARGUMENT
    exhausted: int = 0  # of those, RESOURCE_EXHAUSTED
    attached: int = 0  # good nodes with an accepted stream right now
    late_ticks: int = 0  # telemetry ticks sent more than one period late (swarm overloaded)
    last_attach_unix: float = 0.0  # the last time a good node's stream was accepted
    detached_unix: dict[str, float] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)  # refusals by status code


DEFAULT_LIMIT_W = 700.0


def node_info(name: str, gpus: int) -> types_pb2.NodeInfo:
    return types_pb2.NodeInfo(
        name=name,
        address="127.0.0.1",
        cpu_milli=96_000,
        memory_mib=1 << 20,
        gpus=[
            types_pb2.GpuInfo(
                index=i, uuid=f"GPU-{name}-{i}", model="H100", memory_total_mib=81559,
                power_limit_min_w=200, power_limit_max_w=DEFAULT_LIMIT_W,
                power_limit_default_w=DEFAULT_LIMIT_W,
                idle_power_w=70, max_sm_clock_mhz=1980,
            )
            for i in range(gpus)
        ],
        gpu_backend=types_pb2.GpuBackend(kind="sim", status=types_pb2.GPU_BACKEND_STATUS_OK),
        capabilities=["clock-lock", "power-limit"],
        agent_version="bench-scale",
    )  # fmt: skip


def report(gpus: int, rng: random.Random, garbage: bool = False) -> node_pb2.AgentMessage:
    samples = [
        types_pb2.GpuSample(
            index=i, utilization_pct=rng.uniform(0, 100), memory_used_mib=rng.randrange(80_000),
            power_w=rng.uniform(70, 700), power_limit_w=DEFAULT_LIMIT_W,
            temperature_c=rng.uniform(30, 85),
            sm_clock_mhz=1980,
        )
        for i in range(gpus)
    ]  # fmt: skip
    if garbage:
        samples[0].power_w = math.nan
        samples.append(types_pb2.GpuSample(index=gpus + 7))
    return node_pb2.AgentMessage(
        telemetry=node_pb2.TelemetryReport(time_unix=time.time(), gpus=samples)
    )


class Node:
    def __init__(self, spec: WorkerSpec, name: str, role: str, counters: Counters) -> None:
        self.spec = spec
        self.name = name
        self.role = role
        self.counters = counters
        self.rng = random.Random(f"{spec.seed}:{name}")
        self.target = spec.targets[self.rng.randrange(len(spec.targets))]
        self.info = node_info(name, spec.gpus_per_node)
        # What its GPUs report: the sample sent every period, with the settings applied.
        self.message = report(spec.gpus_per_node, self.rng)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = BACKOFF_INITIAL_S
        # Agents start spread over one period, as machines that booted at different times.
        await _sleep_or_stop(stop, self.rng.uniform(0, self.spec.period_s))
        while not stop.is_set():
            healthy = False
            try:
                healthy = await self._session(stop)
            except grpc.aio.AioRpcError as exc:
                self._refused(exc)
                trailers = dict(exc.trailing_metadata() or ())
                leader = trailers.get(LEADER_METADATA_KEY)
                if isinstance(leader, str) and leader and leader != self.target:
                    self.target = leader
                    continue
                paced = retry_after_s(trailers.items())
                if electing(trailers.items()):
                    backoff = min(backoff, ELECTION_RETRY_S)
                elif paced is not None:
                    backoff = max(paced * 1.5, 0.05)  # as nodeagent.agent does
                else:
                    self._next_target()
            except Exception:
                self._next_target()
            if self.role == "reconnect":
                continue  # no backoff at all: that is the misbehaviour
            if healthy:
                backoff = BACKOFF_INITIAL_S
            await _sleep_or_stop(stop, backoff * self.rng.uniform(0.5, 1.5))
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    def _refused(self, exc: grpc.aio.AioRpcError) -> None:
        self.counters.refused += 1
        code = exc.code().name
        self.counters.codes[code] = self.counters.codes.get(code, 0) + 1
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
            self.counters.invalid += 1
        elif exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
            self.counters.exhausted += 1

    def _next_target(self) -> None:
        targets = self.spec.targets
        if self.target in targets:
            self.target = targets[(targets.index(self.target) + 1) % len(targets)]
        else:
            self.target = targets[0]

    async def _session(self, stop: asyncio.Event) -> bool:
        """One register + stream; True when the stream was accepted (a healthy session)."""
        async with grpc.aio.insecure_channel(self.target) as channel:
            stub = node_pb2_grpc.NodeServiceStub(channel)
            await stub.Register(node_pb2.RegisterNodeRequest(node=self.info), timeout=30)
            call = stub.Connect()
            await call.write(node_pb2.AgentMessage(hello=node_pb2.AgentHello(node=self.name)))
            initial = await asyncio.wait_for(call.initial_metadata(), 30)
            if not accepted(initial):
                await call  # raises the refusal with its trailers
                return False
            self.counters.connects += 1
            if self.role == "reconnect":
                call.cancel()
                return True
            good = self.role == "good"
            if good:
                self.counters.attached += 1
                self.counters.last_attach_unix = time.time()
                self.counters.detached_unix.pop(self.name, None)
            reader = asyncio.create_task(self._read(call))
            try:
                await self._send(call, stop, reader)
            finally:
                if good:
                    self.counters.attached -= 1
                    self.counters.detached_unix[self.name] = time.time()
                reader.cancel()
                with contextlib.suppress(BaseException):
                    await reader
                call.cancel()
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                error = reader.exception()
                if isinstance(error, grpc.aio.AioRpcError):
                    raise error
            return True

    async def _send(self, call: Any, stop: asyncio.Event, reader: asyncio.Task[None]) -> None:
        period = self.spec.period_s
        gpus = self.spec.gpus_per_node
        message = self.message
        if self.role == "flood":
            while not stop.is_set() and not reader.done():
                message.telemetry.time_unix = time.time()
                await call.write(message)
                self.counters.bad_sent += 1
            return
        due = time.monotonic()
        while not stop.is_set() and not reader.done():
            if self.role == "garbage":
                await call.write(report(gpus, self.rng, garbage=True))
                self.counters.bad_sent += 1
            else:
                message.telemetry.time_unix = time.time()
                # A little variation, so the controller does not see one value forever.
                message.telemetry.gpus[0].utilization_pct = self.rng.uniform(0, 100)
                await call.write(message)
                self.counters.reports_sent += 1
            due += period
            delay = due - time.monotonic()
            if delay < -period:
                self.counters.late_ticks += 1
                due = time.monotonic()  # do not send a burst to catch up
                delay = 0
            done = await _sleep_or_stop(stop, delay, reader)
            if done:
                return

    async def _read(self, call: Any) -> None:
        async for message in call:
            kind = message.WhichOneof("body")
            if kind == "command":
                self.counters.commands += 1
                apply_setting(self.message.telemetry, message.command)
                ack = types_pb2.CommandAck(command_id=message.command.id, ok=True)
                await call.write(node_pb2.AgentMessage(ack=ack))
                self.counters.acks_sent += 1
        # The controller ended the stream: read its status so a refusal is seen.
        await call


def apply_setting(telemetry: node_pb2.TelemetryReport, command: types_pb2.Command) -> None:
    """A GPU setting command as the node's later reports show it: the limit in force, the
    clock locks held (what nodeagent reports after applying them)."""
    action = command.WhichOneof("action")
    if action in ("set_power_limit", "reset_power_limit", "lock_clocks", "reset_clocks"):
        body = getattr(command, action)
        if not 0 <= body.gpu_index < len(telemetry.gpus):
            return
    if action == "set_power_limit":
        telemetry.gpus[body.gpu_index].power_limit_w = body.watts
    elif action == "reset_power_limit":
        telemetry.gpus[body.gpu_index].power_limit_w = DEFAULT_LIMIT_W
    elif action in ("lock_clocks", "reset_clocks"):
        locks = [c for c in telemetry.clock_locks if c.gpu_index != body.gpu_index]
        if action == "lock_clocks":
            locks.append(
                node_pb2.ClockLock(
                    gpu_index=body.gpu_index, min_mhz=body.min_mhz, max_mhz=body.max_mhz
                )
            )
        del telemetry.clock_locks[:]
        telemetry.clock_locks.extend(sorted(locks, key=lambda c: c.gpu_index))


async def _sleep_or_stop(
    stop: asyncio.Event, delay_s: float, also: asyncio.Task[None] | None = None
) -> bool:
    """Sleep up to `delay_s`; True when `stop` was set (or `also` ended) meanwhile."""
    waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(stop.wait())}
    if also is not None:
        waits.add(also)
    done, pending = await asyncio.wait(waits, timeout=max(delay_s, 0))
    for task in pending:
        if task is not also:
            task.cancel()
    return bool(done)


def _stats(spec: WorkerSpec, counters: Counters, nodes: int) -> dict[str, Any]:
    cpu = os.times()
    return {
        "worker": spec.worker,
        "nodes": nodes,
        "cpu_s": cpu.user + cpu.system,
        "rss_mib": _rss_mib(),
        "reports_sent": counters.reports_sent,
        "bad_sent": counters.bad_sent,
        "acks_sent": counters.acks_sent,
        "commands": counters.commands,
        "connects": counters.connects,
        "refused": counters.refused,
        "invalid": counters.invalid,
        "exhausted": counters.exhausted,
        "attached": counters.attached,
        "late_ticks": counters.late_ticks,
        "codes": dict(counters.codes),
        "last_attach_unix": counters.last_attach_unix,
        "time_unix": time.time(),
    }


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _main(spec: WorkerSpec, pipe: Connection) -> None:
    counters = Counters()
    stop = asyncio.Event()
    nodes = [Node(spec, name, role, counters) for name, role in spec.nodes]
    tasks = [asyncio.create_task(node.run(stop)) for node in nodes]
    loop = asyncio.get_running_loop()
    try:
        while True:
            pipe.send(_stats(spec, counters, len(nodes)))
            # The parent says "stop" (or goes away) when the run is over.
            if await loop.run_in_executor(None, pipe.poll, STATS_EVERY_S):
                break
    except (EOFError, BrokenPipeError, OSError):
        pass
    stop.set()
    await asyncio.wait(tasks, timeout=10)
    with contextlib.suppress(Exception):
        pipe.send(_stats(spec, counters, len(nodes)))


def worker_main(spec: WorkerSpec, pipe: Connection) -> None:
    """Entry point of one worker process (multiprocessing, spawn)."""
    import uvloop

    # Many streams per process: gRPC's default per-channel polling threads are not needed.
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
    uvloop.run(_main(spec, pipe))
