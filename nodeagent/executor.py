"""Carries out one command against the node's actuators and says how it went.

Every outcome is an ack: success, or failure with a reason. Nothing here raises to the
agent's connection loop, so one bad command can never take the agent down.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import structlog

from nodeagent.clock_locks import ClockLocks
from nodeagent.gpu.base import ActuationError, GpuBackend, WorkloadLoad
from sdk.pb.aiwo.v1 import node_pb2, types_pb2

log = structlog.get_logger("aiwo.agent.executor")

# Restarts in a row of a crash-looping service replica before the agent gives up on it:
# with the supervisor's backoff (1 s doubling to 60 s) about 5 minutes of tries, as long as
# Kubernetes' CrashLoopBackOff takes to reach its 5-minute cap.
SERVE_MAX_RESTARTS = 10

# Commands that change a GPU's settings; an agent run with --no-gpu-control refuses them.
_GPU_SETTINGS = frozenset({"set_power_limit", "reset_power_limit", "lock_clocks", "reset_clocks"})


class Executor:
    def __init__(
        self,
        backend: GpuBackend,
        supervisor: Any | None = None,
        throttler: Any | None = None,
        transfers: Any | None = None,
        gpu_control: bool = True,
        credentials: Callable[[str], Awaitable[dict[str, str]]] | None = None,
        clock_locks: ClockLocks | None = None,
    ) -> None:
        self.backend = backend
        self.clock_locks = clock_locks if clock_locks is not None else ClockLocks()
        self.gpu_control = gpu_control
        self.credentials = credentials  # environment a managed workload needs to use the SDK
        self.supervisor = supervisor
        self.throttler = throttler
        self.transfers = transfers
        self.assigned: dict[str, types_pb2.AssignWorkload] = {}
        self.managed: dict[str, types_pb2.StartWorkload] = {}
        self._throttles: dict[str, float] = {}  # workload -> cpu fraction set (0: frozen)
        self._handlers: dict[str, Callable[[Any], Awaitable[None]]] = {
            "set_power_limit": self._set_power_limit,
            "reset_power_limit": self._reset_power_limit,
            "lock_clocks": self._lock_clocks,
            "reset_clocks": self._reset_clocks,
            "assign_workload": self._assign,
            "unassign_workload": self._unassign,
            "start_workload": self._start,
            "stop_workload": self._stop,
            "throttle_workload": self._throttle,
        }

    async def execute(self, command: types_pb2.Command) -> types_pb2.CommandAck:
        action = command.WhichOneof("action")
        handler = self._handlers.get(action or "")
        if action == "checkpoint_workload":
            # The command's id names the transfer, so the controller can match the chunks.
            handler = functools.partial(self._send_checkpoint, command.id)
        if handler is None:
            return _failed(command, f"unsupported command {action!r} on this agent")
        if action in _GPU_SETTINGS and not self.gpu_control:
            return _failed(command, f"{action}: GPU control is off on this node (--no-gpu-control)")
        try:
            await handler(getattr(command, action))  # type: ignore[arg-type]
        except ActuationError as exc:
            return _failed(command, exc.reason)
        except Exception as exc:  # the ack carries it; the agent keeps running
            log.exception("command_crashed", command_id=command.id, action=action)
            return _failed(command, f"{type(exc).__name__}: {exc}")
        return types_pb2.CommandAck(command_id=command.id, ok=True)

    async def _set_power_limit(self, a: types_pb2.SetPowerLimit) -> None:
        await asyncio.to_thread(self.backend.set_power_limit, a.gpu_index, a.watts)

    async def _reset_power_limit(self, a: types_pb2.ResetPowerLimit) -> None:
        await asyncio.to_thread(self.backend.reset_power_limit, a.gpu_index)

    async def _lock_clocks(self, a: types_pb2.LockClocks) -> None:
        await asyncio.to_thread(self.backend.lock_clocks, a.gpu_index, a.min_mhz, a.max_mhz)
        self.clock_locks.set(a.gpu_index, a.min_mhz, a.max_mhz)

    async def _reset_clocks(self, a: types_pb2.ResetClocks) -> None:
        await asyncio.to_thread(self.backend.reset_clocks, a.gpu_index)
        self.clock_locks.clear(a.gpu_index)

    async def _assign(self, a: types_pb2.AssignWorkload) -> None:
        self.assigned[a.workload] = a
        self.backend.assign(
            WorkloadLoad(
                workload=a.workload,
                gpus=tuple(a.gpus),
                milli_gpu=a.milli_gpu,
                priority=a.priority,
                p99_latency_target_ms=a.p99_latency_target_ms,
            )
        )

    async def _unassign(self, a: types_pb2.UnassignWorkload) -> None:
        self.assigned.pop(a.workload, None)
        self.backend.unassign(a.workload)

    async def release_managed(self) -> list[str]:
        """Stop every managed workload (self-fencing: the controller has moved them)."""
        if self.supervisor is None:
            return []
        stopped = sorted(self.supervisor.running())
        for workload in stopped:
            self.managed.pop(workload, None)
            with contextlib.suppress(ActuationError):
                await self.supervisor.stop(workload, 10.0)
        return stopped

    async def reconcile(self, sync: node_pb2.AssignmentSet) -> list[str]:
        """Converge on the controller's full list: release what is not in it, keep the rest.

        Returns what was released. Work rescheduled elsewhere while this node was away
        must not keep running here (no duplicates)."""
        released = []
        wanted = {a.workload for a in sync.assignments}
        wanted_managed = {m.workload for m in sync.managed}
        for workload in sorted(set(self.assigned) - wanted):
            await self._unassign(types_pb2.UnassignWorkload(workload=workload))
            released.append(workload)
        if self.supervisor is not None:
            for workload in sorted(set(self.supervisor.running()) - wanted_managed):
                self.managed.pop(workload, None)
                with contextlib.suppress(ActuationError):
                    await self.supervisor.stop(workload, 10.0)
                released.append(workload)
        for assignment in sync.assignments:
            await self._assign(assignment)
        for start in sync.managed:
            with contextlib.suppress(ActuationError):
                await self._start(start)
        return released

    async def _start(self, a: types_pb2.StartWorkload) -> None:
        if self.supervisor is None:
            raise ActuationError("this agent does not run managed workloads")
        from nodeagent.launch import LaunchSpec

        policy: Literal["never", "on-failure", "always"] = (
            "on-failure"
            if a.launch.restart_policy == types_pb2.RESTART_POLICY_ON_FAILURE
            else "never"
        )
        if a.launch.serve:
            # A replica that exits, however, is restarted (crash-loop backoff); after
            # SERVE_MAX_RESTARTS in a row it is given up on and the controller replaces it.
            policy = "always"
        # Ours last: a launch spec cannot name another token or certificate. Only for a
        # process about to start: one already running keeps the token it was given.
        fresh = a.workload not in self.supervisor.running()
        credentials = await self.credentials(a.workload) if self.credentials and fresh else {}
        spec = LaunchSpec(
            command=tuple(a.launch.command),
            env={**dict(a.launch.env), **credentials},
            working_dir=a.launch.working_dir or None,
            restart_policy=policy,
            serve=a.launch.serve,
            health_path=a.launch.health_path,
            **({"max_restarts": SERVE_MAX_RESTARTS} if a.launch.serve else {}),
        )
        checkpoint = self._checkpoint_dir(a) if a.checkpoint_dir else None
        await self.supervisor.start(
            a.workload, a.uid, spec, list(a.gpus), checkpoint_dir=checkpoint
        )

    def _checkpoint_dir(self, a: types_pb2.StartWorkload) -> Path:
        """A migration resumes from the directory the checkpoint was installed in: it must
        be this agent's own, so a command cannot point a workload at any path."""
        assert self.supervisor is not None
        root = Path(self.supervisor.checkpoint_root).resolve()
        path = Path(a.checkpoint_dir).resolve()
        if not path.is_relative_to(root):
            raise ActuationError(
                f"checkpoint_dir {a.checkpoint_dir} is outside this agent's checkpoints ({root})"
            )
        if not path.is_dir():
            raise ActuationError(f"no checkpoint to resume {a.workload} from: {path} is missing")
        if not any(path.iterdir()):
            raise ActuationError(f"no checkpoint to resume {a.workload} from: {path} is empty")
        return path

    async def _send_checkpoint(self, command_id: str, a: types_pb2.CheckpointWorkload) -> None:
        if self.transfers is None:
            raise ActuationError("this agent does not run managed workloads")
        await self.transfers.upload(command_id, a.workload)

    async def _stop(self, a: types_pb2.StopWorkload) -> None:
        if self.supervisor is None:
            raise ActuationError("this agent does not run managed workloads")
        self.managed.pop(a.workload, None)
        # A workload this agent does not run: UnknownWorkloadError, acked failed with the reason.
        await self.supervisor.stop(a.workload, a.grace_s or 10.0)

    async def _throttle(self, a: types_pb2.ThrottleWorkload) -> None:
        if self.throttler is None:
            raise ActuationError("no process throttling mechanism on this node")
        if self.supervisor is not None and self.supervisor.pid(a.workload) is None:
            raise ActuationError(f"workload {a.workload} is not running on this node")
        if a.freeze:
            await self.throttler.freeze(a.workload)
            self._throttles[a.workload] = 0.0
            return
        await self.throttler.thaw(a.workload)
        fraction = None if a.cpu_fraction >= 1.0 or a.cpu_fraction <= 0 else a.cpu_fraction
        await self.throttler.set_cpu_fraction(a.workload, fraction)
        if fraction is None:
            self._throttles.pop(a.workload, None)
        else:
            self._throttles[a.workload] = fraction

    def throttles(self) -> dict[str, float]:
        """Process throttles in force, by workload: the CPU fraction (0: frozen). Reported in
        telemetry, so that a leader that did not set one (after a failover) can undo it."""
        running = self.supervisor.running() if self.supervisor is not None else ()
        for workload in [w for w in self._throttles if w not in running]:
            del self._throttles[workload]  # stopped (or restarted: a new process runs free)
        return dict(self._throttles)


def _failed(command: types_pb2.Command, reason: str) -> types_pb2.CommandAck:
    return types_pb2.CommandAck(command_id=command.id, ok=False, reason=reason)
