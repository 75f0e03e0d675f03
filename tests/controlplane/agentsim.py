"""A scripted agent for controller tests: it speaks the real protocol over a real stream.

It is not a fake of anything: it is a minimal client of NodeService, used where a test
needs to control exactly what an agent sends (telemetry values, acks, silence).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import grpc

from sdk.pb.aiwo.v1 import node_pb2, node_pb2_grpc, types_pb2


def node_info(
    name: str, gpus: int = 8, model: str = "H100", memory_mib: int = 81559
) -> types_pb2.NodeInfo:
    return types_pb2.NodeInfo(
        name=name,
        cpu_milli=96_000,
        memory_mib=512 * 1024,
        gpus=[
            types_pb2.GpuInfo(
                index=i,
                uuid=f"GPU-{name}-{i}",
                model=model,
                memory_total_mib=memory_mib,
                power_limit_min_w=200,
                power_limit_max_w=700,
                power_limit_default_w=700,
            )
            for i in range(gpus)
        ],
        gpu_backend=types_pb2.GpuBackend(kind="sim", status=types_pb2.GPU_BACKEND_STATUS_OK),
        capabilities=["clock-lock", "power-limit"],  # what the real agent reports on a GPU
    )


class ScriptedAgent:
    def __init__(self, address: str, info: types_pb2.NodeInfo, auto_ack: bool = True) -> None:
        self.address = address
        self.info = info
        self.auto_ack = auto_ack
        self.commands: list[types_pb2.Command] = []
        self.received = asyncio.Event()
        self._channel: grpc.aio.Channel | None = None
        self._call = None
        self._tasks: list[asyncio.Task[None]] = []
        self.silent = False
        self.utilization_pct = 50.0
        self.throttles: dict[str, float] = {}  # process throttles to report as in force
        self.clock_locks: dict[int, tuple[int, int]] = {}  # clock locks to report as held
        self._writing = asyncio.Lock()

    async def start(self) -> None:
        self._channel = grpc.aio.insecure_channel(self.address)
        stub = node_pb2_grpc.NodeServiceStub(self._channel)
        await stub.Register(node_pb2.RegisterNodeRequest(node=self.info), timeout=5)
        self._call = call = stub.Connect()
        await call.write(node_pb2.AgentMessage(hello=node_pb2.AgentHello(node=self.info.name)))
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._beat())]

    async def _read(self) -> None:
        assert self._call is not None
        while True:
            message = await self._call.read()
            if message is grpc.aio.EOF:
                return
            await self._handle(message)

    async def _handle(self, message: node_pb2.ControllerMessage) -> None:
        """One message from the controller; a subclass answers more kinds than commands."""
        if message.WhichOneof("body") == "command":
            self.commands.append(message.command)
            self.received.set()
            await self._answer(message.command)

    async def _answer(self, command: types_pb2.Command) -> None:
        """What the agent does with a command: by default ack it (with `auto_ack`)."""
        if self.auto_ack:
            await self.send(
                node_pb2.AgentMessage(ack=types_pb2.CommandAck(command_id=command.id, ok=True))
            )

    async def _beat(self) -> None:
        while True:
            if not self.silent:
                await self.send(
                    node_pb2.AgentMessage(telemetry=self.telemetry(self.utilization_pct))
                )
            await asyncio.sleep(0.2)

    def telemetry(self, utilization_pct: float = 50.0) -> node_pb2.TelemetryReport:
        power = 75 + 6.25 * utilization_pct  # idle 75 W, 700 W when fully busy
        return node_pb2.TelemetryReport(
            time_unix=time.time(),
            gpus=[
                types_pb2.GpuSample(
                    index=g.index,
                    utilization_pct=utilization_pct,
                    memory_used_mib=1000,
                    power_w=power,
                    power_limit_w=700,
                    temperature_c=55,
                    sm_clock_mhz=1700,
                )
                for g in self.info.gpus
            ],
            throttles=[
                node_pb2.ProcessThrottle(workload=w, cpu_fraction=f)
                for w, f in sorted(self.throttles.items())
            ],
            clock_locks=[
                node_pb2.ClockLock(gpu_index=i, min_mhz=lo, max_mhz=hi)
                for i, (lo, hi) in sorted(self.clock_locks.items())
            ],
        )

    async def send(self, message: node_pb2.AgentMessage) -> None:
        # One write at a time: the heartbeat and the acks come from two tasks, and gRPC
        # ends a call that is given a second write while one is in flight.
        assert self._call is not None
        async with self._writing:
            await self._call.write(message)

    def actions(self, kind: str) -> list[types_pb2.Command]:
        return [c for c in self.commands if c.WhichOneof("action") == kind]

    async def __aenter__(self) -> ScriptedAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if self._call is not None:
            self._call.cancel()
        if self._channel is not None:
            await self._channel.close()
