"""The agent's connection to the controller: register, one stream, reconnect with backoff.

Up the stream: a hello, telemetry every interval (which doubles as the heartbeat), acks and
process events. Down: commands and controller heartbeats. A stream that has heard nothing
for a few heartbeat periods is treated as dead, so a partition is noticed without a FIN.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc
import structlog

from nodeagent.config import AgentConfig
from nodeagent.convert import backend_pb, gpu_info_pb, gpu_sample_pb, net_sample_pb
from nodeagent.executor import Executor
from nodeagent.gpu.base import GpuBackend
from nodeagent.journal import CommandJournal
from nodeagent.state_machine import AgentState, Execute, Reply
from nodeagent.tls import open_channel
from sdk._errors import finished_call_error
from sdk._metadata import (
    ELECTION_RETRY_S,
    LEADER_METADATA_KEY,
    accepted,
    electing,
    retry_after_s,
)
from sdk._tasks import cancel_and_wait
from sdk._tokens import write_secret
from sdk.pb.aiwo.v1 import node_pb2, node_pb2_grpc, types_pb2

log = structlog.get_logger("aiwo.agent")


# Must match controlplane.leader.migration: the node label naming a shared checkpoint root.
SHARED_CHECKPOINTS_LABEL = "aiwo.dev/shared-checkpoints"
SILENCE_LIMIT_S = 8.0  # the controller sends a heartbeat every 2 s
AGENT_VERSION = "0.1.0"


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        backend: GpuBackend,
        net_sampler: Any | None = None,
        executor: Executor | None = None,
        capabilities: tuple[str, ...] = (),
        transfers: Any | None = None,
        shared_checkpoints: str = "",
    ) -> None:
        # The shared checkpoint root, if any: said in the node's labels, so the controller
        # can see that two nodes see the same checkpoints and skip the transfer.
        self.shared_checkpoints = shared_checkpoints
        self.config = config
        self.backend = backend
        self.net_sampler = net_sampler
        self.executor = executor or Executor(backend)
        self.capabilities = capabilities
        self.transfers = transfers  # checkpoint installs and log reads (nodeagent.transfers)
        # Controller replicas, comma-separated in config; followers name the leader.
        self.endpoints = [e.strip() for e in config.controller.split(",") if e.strip()]
        self.target = self.endpoints[0]
        self.state_file = Path(config.state_dir) / "agent-state.json"
        self.state = AgentState(highest_epoch=self._load_epoch())
        # Outcomes outlive a restart: a redelivered command is re-acked, not run again.
        self.journal = CommandJournal(Path(config.state_dir) / "command-journal.jsonl")
        self.state.restore(self.journal.load())
        self.outbox: asyncio.Queue[node_pb2.AgentMessage] = asyncio.Queue(4096)
        self.connected = asyncio.Event()
        self.sessions = 0  # successful connections so far
        self.last_contact = time.monotonic()  # the last message from a controller
        self._running: set[asyncio.Task[None]] = set()
        # The service replicas' prober (nodeagent.probe.ReplicaProber), set by main.
        self.prober: Any | None = None

    # ------------------------------------------------------------ identity

    def node_info(self) -> types_pb2.NodeInfo:
        cpu_milli = self.config.cpu_milli or (os.cpu_count() or 1) * 1000
        memory_mib = self.config.memory_mib or _host_memory_mib()
        caps = list(self.capabilities)
        state = self.backend.state()
        if state.status.value in ("ok", "degraded") and self.config.gpu_control:
            caps += ["power-limit", "clock-lock"]
        return types_pb2.NodeInfo(
            name=self.config.node,
            address=os.uname().nodename,
            cpu_milli=cpu_milli,
            memory_mib=memory_mib,
            gpus=[gpu_info_pb(info) for info in self.backend.inventory()],
            gpu_backend=backend_pb(state),
            capabilities=sorted(set(caps)),
            labels=(
                {SHARED_CHECKPOINTS_LABEL: self.shared_checkpoints}
                if self.shared_checkpoints
                else {}
            ),
            agent_version=AGENT_VERSION,
        )

    # ------------------------------------------------------------ credentials

    async def workload_credentials(self, workload: str) -> dict[str, str]:
        """What a managed workload needs to use the SDK on a secured cluster: the CA, a client
        certificate (workload_tls_cert) and a token the controller mints for it, in a 0600
        file. Nothing on a plaintext cluster. Never fatal: without them the workload runs
        but cannot attach, and the log says why."""
        config = self.config
        if not config.tls_cert:
            return {}
        if not config.workload_tls_cert:
            log.warning("workload_without_credentials", workload=workload,
                        reason="no workload_tls_cert configured")  # fmt: skip
            return {}
        env = {
            "AIWO_TLS_CA": config.tls_ca,
            "AIWO_TLS_CERT": config.workload_tls_cert,
            "AIWO_TLS_KEY": config.workload_tls_key,
            **({"AIWO_TLS_SERVER_NAME": config.tls_server_name} if config.tls_server_name else {}),
        }
        request = node_pb2.WorkloadCredentialsRequest(node=config.node, workload=workload)
        try:
            async with open_channel(config, self.target, []) as channel:
                reply = await node_pb2_grpc.NodeServiceStub(channel).WorkloadCredentials(
                    request, timeout=5
                )
        except grpc.aio.AioRpcError as exc:
            log.warning("workload_token_unavailable", workload=workload,
                        code=exc.code().name, detail=exc.details())  # fmt: skip
            return env
        if reply.token:
            path = Path(config.state_dir) / "credentials" / (workload.replace("/", "__") + ".token")
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            await asyncio.to_thread(write_secret, path, reply.token)
            env["AIWO_TOKEN_FILE"] = str(path)
        return env

    # ------------------------------------------------------------ run

    async def run(self, stop: asyncio.Event) -> None:
        backoff = self.config.backoff_initial_s
        fence = asyncio.create_task(self._self_fence(stop), name="self-fence")
        try:
            await self._connect_loop(stop, backoff)
        finally:
            fence.cancel()
            with contextlib.suppress(BaseException):
                await fence

    async def _self_fence(self, stop: asyncio.Event) -> None:
        """Stop managed workloads when no controller has been heard for `fence_after_s`."""
        limit = self.config.fence_after_s
        if limit <= 0:
            return
        fenced = False
        while not stop.is_set():
            await asyncio.sleep(min(1.0, limit / 4))
            if self.connected.is_set():
                fenced = False
                continue
            silent_s = time.monotonic() - self.last_contact
            if not fenced and silent_s > limit:
                stopped = await self.executor.release_managed()
                log.warning("self_fenced", silent_s=round(silent_s, 1), stopped=stopped)
                fenced = True

    async def _connect_loop(self, stop: asyncio.Event, backoff: float) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self._session(stop)
            except grpc.aio.AioRpcError as exc:
                log.warning(
                    "controller_unreachable",
                    controller=self.target,
                    code=exc.code().name,
                    detail=exc.details(),
                )
                trailers = dict(exc.trailing_metadata() or ())
                leader = trailers.get(LEADER_METADATA_KEY)
                if isinstance(leader, str) and leader and leader != self.target:
                    log.info("following_leader", leader=leader)
                    self.target = leader  # a follower named the leader: go there at once
                    continue
                backoff = backoff_after_refusal(backoff, trailers)
                self._next_target()
            except (ConnectionError, TimeoutError, OSError) as exc:
                log.warning("controller_connection_lost", controller=self.target, error=str(exc))
                self._next_target()
            except Exception as exc:  # a session never takes the agent down: log, reconnect
                log.exception("agent_session_failed", controller=self.target, error=str(exc))
                self._next_target()
            finally:
                self.connected.clear()
            if stop.is_set():
                break
            if time.monotonic() - started > 30:
                backoff = self.config.backoff_initial_s  # it was a healthy session
            delay = backoff * random.uniform(0.5, 1.5)  # jitter: agents don't stampede
            log.info("reconnecting", in_s=round(delay, 2))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            backoff = min(backoff * 2, self.config.backoff_max_s)

    def _next_target(self) -> None:
        """Try the next configured controller replica (any of them can name the leader)."""
        if self.target in self.endpoints:
            index = (self.endpoints.index(self.target) + 1) % len(self.endpoints)
        else:
            index = 0
        self.target = self.endpoints[index]

    async def _session(self, stop: asyncio.Event) -> None:
        options = [
            ("grpc.keepalive_time_ms", 10_000),
            ("grpc.keepalive_timeout_ms", 5_000),
            ("grpc.keepalive_permit_without_calls", 1),
        ]
        async with open_channel(self.config, self.target, options) as channel:
            stub = node_pb2_grpc.NodeServiceStub(channel)
            reply = await stub.Register(
                node_pb2.RegisterNodeRequest(node=self.node_info()), timeout=5
            )
            interval = reply.telemetry_interval_s or self.config.telemetry_interval_s
            call = stub.Connect()
            await call.write(
                node_pb2.AgentMessage(
                    hello=node_pb2.AgentHello(
                        node=self.config.node,
                        session_id=reply.session_id,
                        highest_epoch_seen=self.state.highest_epoch,
                    )
                )
            )
            # Nothing goes up until the controller has accepted the hello (it may have
            # stopped leading since Register): what is written into a stream it refuses is
            # lost, and process events matter.
            if not accepted(await call.initial_metadata()):
                refused = await finished_call_error(call)
                raise refused or ConnectionError("the controller ended the stream")
            self.sessions += 1
            self.connected.set()
            self._announce_ready_replicas()
            log.info(
                "agent_connected",
                controller=self.target,
                node=self.config.node,
                epoch=reply.epoch,
            )
            tasks = {
                asyncio.create_task(self._send_loop(call, interval)),
                asyncio.create_task(self._receive_loop(call)),
                asyncio.create_task(stop.wait()),
            }
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    error = None if task.cancelled() else task.exception()
                    if isinstance(error, asyncio.InvalidStateError):
                        # A write after the controller ended the stream: its status says why
                        # (e.g. UNAVAILABLE naming the new leader), so raise that instead.
                        ended = await finished_call_error(call)
                        raise ended or ConnectionError("the controller ended the stream")
                    if error is not None:
                        raise error
            finally:
                await cancel_and_wait(tasks)
                call.cancel()

    async def _send_loop(self, call: Any, interval_s: float) -> None:
        last_backend = None
        next_report = time.monotonic()
        while True:
            timeout = max(next_report - time.monotonic(), 0)
            try:
                message = await asyncio.wait_for(self.outbox.get(), timeout)
                await call.write(message)
                continue
            except TimeoutError:
                pass
            now = time.time()
            report = node_pb2.TelemetryReport(time_unix=now)
            samples = await asyncio.to_thread(self.backend.sample, now)
            report.gpus.extend(gpu_sample_pb(s) for s in samples)
            if self.net_sampler is not None:
                report.nets.extend(net_sample_pb(s) for s in self.net_sampler.sample(now))
            report.throttles.extend(
                node_pb2.ProcessThrottle(workload=w, cpu_fraction=f)
                for w, f in sorted(self.executor.throttles().items())
            )
            report.clock_locks.extend(
                node_pb2.ClockLock(gpu_index=i, min_mhz=lo, max_mhz=hi)
                for i, (lo, hi) in self.executor.clock_locks.items()
            )
            backend = backend_pb(self.backend.state())
            if backend != last_backend:
                report.gpu_backend.CopyFrom(backend)
                last_backend = backend
            await call.write(node_pb2.AgentMessage(telemetry=report))
            next_report += interval_s
            if next_report < time.monotonic():
                next_report = time.monotonic() + interval_s  # fell behind: don't burst

    async def _receive_loop(self, call: Any) -> None:
        while True:
            try:
                message = await asyncio.wait_for(call.read(), SILENCE_LIMIT_S)
            except TimeoutError:
                raise ConnectionError(
                    f"no word from the controller for {SILENCE_LIMIT_S:g}s"
                ) from None
            if message is grpc.aio.EOF:
                raise ConnectionError("the controller closed the stream")
            self.last_contact = time.monotonic()
            kind = message.WhichOneof("body")
            if kind == "command":
                await self._on_command(message.command)
            elif kind == "sync":
                await self._on_sync(message.sync)
            elif kind == "checkpoint_chunk":
                # In order, on this loop: chunks of one transfer must be spooled in sequence.
                await self._on_checkpoint_chunk(message.checkpoint_chunk)
            elif kind == "logs_request":
                self._spawn(self._on_logs_request(message.logs_request))

    async def _on_sync(self, sync: node_pb2.AssignmentSet) -> None:
        if sync.epoch < self.state.highest_epoch:
            log.warning("sync_refused", epoch=sync.epoch, highest=self.state.highest_epoch)
            return
        if sync.epoch > self.state.highest_epoch:
            self.state.seen_epoch(sync.epoch)
            self._save_epoch()
        released = await self.executor.reconcile(sync)
        log.info("assignments_synced", assigned=len(sync.assignments), released=released)

    async def _on_command(self, command: types_pb2.Command) -> None:
        before = self.state.highest_epoch
        instruction = self.state.on_command(command, time.time())
        if self.state.highest_epoch != before:
            self._save_epoch()
        if instruction is None:
            return
        if isinstance(instruction, Reply):
            await self.outbox.put(node_pb2.AgentMessage(ack=instruction.ack))
            return
        assert isinstance(instruction, Execute)
        log.info(
            "command_received",
            command_id=command.id,
            action=command.WhichOneof("action"),
            epoch=command.epoch,
        )
        self.journal.started(command.id)  # before it runs: a crash now means "interrupted"
        task = asyncio.create_task(self._execute(command))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _on_checkpoint_chunk(self, chunk: node_pb2.CheckpointChunk) -> None:
        if self.transfers is not None:
            await self.transfers.receive(chunk)
        elif chunk.last:
            await self.outbox.put(
                node_pb2.AgentMessage(
                    checkpoint_installed=node_pb2.CheckpointInstalled(
                        transfer_id=chunk.transfer_id,
                        workload=chunk.workload,
                        reason="this agent does not run managed workloads",
                    )
                )
            )

    async def _on_logs_request(self, request: node_pb2.AgentLogsRequest) -> None:
        if self.transfers is not None:
            await self.transfers.logs(request)
            return
        reply = node_pb2.AgentLogsReply(
            request_id=request.request_id, reason="this agent does not run managed workloads"
        )
        await self.outbox.put(node_pb2.AgentMessage(logs_reply=reply))

    async def _execute(self, command: types_pb2.Command) -> None:
        ack = await self.executor.execute(command)
        self.state.record(ack)
        self.journal.finished(ack)
        log.info("command_done", command_id=command.id, ok=ack.ok, reason=ack.reason)
        await self.outbox.put(node_pb2.AgentMessage(ack=ack))

    def report_supervisor_event(self, event: Any) -> None:
        """The supervisor's ProcessEvent, up the stream as the wire's ProcessEvent."""
        self.report_process_event(
            node_pb2.ProcessEvent(
                workload=event.workload,
                kind=event.kind,
                pid=event.pid,
                exit_code=event.exit_code or 0,
                signal=event.signal,
                detail=event.detail,
                time_unix=event.time_unix,
                outcome=getattr(event, "outcome", ""),
                port=getattr(event, "port", 0),
            )
        )

    def _announce_ready_replicas(self) -> None:
        """A controller that has just become leader (or restarted) knows no endpoints: tell
        it which replicas here are ready, first thing on every stream."""
        if self.prober is None:
            return
        for event in self.prober.ready_events():
            self.report_supervisor_event(event)

    def report_process_event(self, event: node_pb2.ProcessEvent) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.outbox.put_nowait(node_pb2.AgentMessage(process_event=event))

    # ------------------------------------------------------------ fencing state on disk

    def _load_epoch(self) -> int:
        try:
            return int(json.loads(self.state_file.read_text()).get("highest_epoch", 0))
        except (OSError, ValueError):
            return 0

    def _save_epoch(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"highest_epoch": self.state.highest_epoch}))
        tmp.replace(self.state_file)


def backoff_after_refusal(backoff: float, trailers: Mapping[str, object]) -> float:
    """The backoff once a controller refused: while it says an election is under way, at
    most ELECTION_RETRY_S. The election ends within a lease or so, and after it nodes get
    only a grace window to come back, so growing the backoff further would make a node
    miss it (seen: a 4.7 s backoff past a 3 s grace failed a migration in flight)."""
    if electing(trailers.items()):
        return min(backoff, ELECTION_RETRY_S)
    paced = retry_after_s(trailers.items())
    if paced is not None:
        # Admission pacing (the reconnect storm after a failover): come back when told,
        # spread over up to twice that by the jitter (0.5-1.5x) so the next wave is smooth.
        return max(paced * 1.5, 0.05)
    return backoff


def _host_memory_mib() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0
