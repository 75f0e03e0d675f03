"""Starts, watches, restarts and stops the workloads the agent runs itself (managed workloads).

Each workload runs as the leader of its own session and process group, so that a stop reaches
everything it forked, and a signal to it never reaches the agent. One asyncio task per workload
waits for its exit, reports it, and restarts it when its policy says so.

Events go out through ``on_event`` (the agent forwards them to the controller as ProcessEvent
messages); failures the caller must answer for raise ``SupervisorError`` with a reason.

Beside it: nodeagent.launch (the spec, events and errors), nodeagent.restart (whether an exit
is restarted, and when: pure) and nodeagent.process_group (environment, log files, process
groups). This module holds the state of each managed workload and the tasks that watch them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal as signals
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from nodeagent import ports, process_group
from nodeagent.launch import (
    EventKind,
    LaunchError,
    LaunchSpec,
    ProcessEvent,
    ReplicaWatcher,
    SupervisorError,
    UnknownWorkloadError,
)
from nodeagent.restart import decide_restart
from nodeagent.throttle.base import ThrottleError, Throttler, is_workload_id

log = structlog.get_logger("aiwo.agent.supervisor")

# The launch types live in nodeagent.launch; they stay importable from here, the agent's one
# entry point for managed workloads.
__all__ = [
    "LaunchError",
    "LaunchSpec",
    "ProcessEvent",
    "ReplicaWatcher",
    "Supervisor",
    "SupervisorError",
    "UnknownWorkloadError",
]


@dataclass
class _Managed:
    workload: str
    uid: str
    spec: LaunchSpec
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    started_at: float = 0.0  # monotonic
    restarts: int = 0
    port: int = 0  # AIWO_PORT of a service replica, kept across restarts while it is free
    stopping: bool = False
    last_exit: ProcessEvent | None = None
    watcher: asyncio.Task[None] | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    # Set by stop() to cut a restart backoff short (the watcher is never cancelled: a task
    # cancelled inside a process launch could leave an unsupervised child behind).
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pid(self) -> int | None:
        if self.process is None or self.process.returncode is not None:
            return None
        return self.process.pid


class Supervisor:
    def __init__(
        self,
        log_dir: Path,
        checkpoint_root: Path,
        controller_address: str,
        throttler: Throttler | None = None,
        on_event: Callable[[ProcessEvent], None] | None = None,
        *,
        base_env: Mapping[str, str] | None = None,
        leftover_grace_s: float = 2.0,
        owner: str = "",
        replicas: ReplicaWatcher | None = None,
    ) -> None:
        """`base_env`: the environment every workload starts from; by default the agent's own
        without its AIWO_* settings (they may carry the agent's credentials).
        `leftover_grace_s`: how long processes a workload leaves behind get after SIGTERM.
        `replicas`: told when each service replica (LaunchSpec.serve) starts and exits."""
        self.log_dir = log_dir
        self.checkpoint_root = checkpoint_root
        self.controller_address = controller_address
        self.throttler = throttler
        self._on_event = on_event
        if base_env is None:
            base_env = process_group.default_base_env(os.environ, sys.executable)
        self._base_env = dict(base_env)
        self._leftover_grace_s = leftover_grace_s
        # Marks every child (AIWO_OWNER) so that a restarted agent can find what its previous
        # life left running: workloads run in sessions of their own and outlive a kill -9.
        self.owner = owner
        self._managed: dict[str, _Managed] = {}
        self.replicas = replicas

    # --- queries ------------------------------------------------------------------------------

    def pid(self, workload: str) -> int | None:
        managed = self._managed.get(workload)
        return managed.pid if managed else None

    def running(self) -> dict[str, int]:
        """Workloads with a live process, and its pid."""
        return {w: m.pid for w, m in self._managed.items() if m.pid is not None}

    def port(self, workload: str) -> int:
        """The port of a service replica (0 for other workloads and unknown ones)."""
        managed = self._managed.get(workload)
        return managed.port if managed else 0

    def log_paths(self, workload: str) -> tuple[Path, Path]:
        """The stdout and stderr files of a workload (appended to across restarts)."""
        namespace, name = _split(workload)
        return (self.log_dir / namespace / f"{name}.out", self.log_dir / namespace / f"{name}.err")

    def checkpoint_dir(self, workload: str) -> Path:
        namespace, name = _split(workload)
        return self.checkpoint_root / namespace / name

    # --- commands -----------------------------------------------------------------------------

    async def start(
        self,
        workload: str,
        uid: str,
        spec: LaunchSpec,
        gpus: Sequence[int],
        *,
        checkpoint_dir: Path | None = None,
    ) -> int | None:
        """Start `workload`, or return the pid it already runs with (None while it waits to be
        restarted). Raises LaunchError, after a "start_failed" event, when it cannot start.

        `checkpoint_dir` overrides the per-workload default under checkpoint_root (a migration
        passes the directory holding the checkpoint to resume from)."""
        _split(workload)
        existing = self._managed.get(workload)
        if existing is not None and not existing.finished.is_set():
            if existing.uid != uid:
                raise SupervisorError(
                    f"workload {workload} already runs with uid {existing.uid}; stop it first"
                )
            if existing.stopping:
                raise SupervisorError(f"workload {workload} is being stopped; start it afterwards")
            return existing.pid

        checkpoint = checkpoint_dir or self.checkpoint_dir(workload)
        managed = _Managed(
            workload, uid, spec, self._child_env(workload, uid, spec, gpus, checkpoint)
        )
        self._managed[workload] = managed
        try:
            await asyncio.to_thread(checkpoint.mkdir, parents=True, exist_ok=True)
            await self._spawn(managed)
        except (LaunchError, OSError) as exc:
            reason = exc.reason if isinstance(exc, LaunchError) else f"{checkpoint}: {exc.strerror}"
            managed.finished.set()
            self._emit(managed, "start_failed", detail=reason, outcome="failed")
            raise LaunchError(reason) from exc
        self._emit(
            managed,
            "started",
            pid=managed.process.pid if managed.process else 0,
            port=managed.port,
        )
        managed.watcher = asyncio.create_task(
            self._watch(managed), name=f"aiwo-supervise-{workload}"
        )
        return managed.pid

    async def stop(self, workload: str, grace_s: float = 10.0) -> ProcessEvent | None:
        """SIGTERM the workload's process group, SIGKILL whatever is left after `grace_s`.

        Returns when no process of the group is left; the result is the final "exited" event
        (None if the workload never ran)."""
        managed = self._managed.get(workload)
        if managed is None:
            raise UnknownWorkloadError(f"workload {workload} is not managed by this agent")
        managed.stopping = True
        managed.wakeup.set()
        while not managed.finished.is_set():
            # Looping covers a restart that was already launching when the stop came.
            process = managed.process
            if process is not None and process.returncode is None:
                # A frozen or stopped group could not act on SIGTERM; let it run to shut down.
                await self._resume(workload)
                await process_group.terminate_group(process.pid, grace_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(managed.finished.wait(), 0.5)
        if self._managed.get(workload) is managed:
            del self._managed[workload]
        return managed.last_exit

    async def signal(self, workload: str, sig: int) -> None:
        """Send `sig` to the workload's whole process group."""
        managed = self._managed.get(workload)
        if managed is None:
            raise UnknownWorkloadError(f"workload {workload} is not managed by this agent")
        pid = managed.pid
        if pid is None:
            raise SupervisorError(f"workload {workload} has no running process")
        try:
            os.killpg(pid, sig)
        except ProcessLookupError as exc:
            raise SupervisorError(f"workload {workload} has no running process") from exc

    async def shutdown(self, grace_s: float = 10.0) -> None:
        """Stop every workload (in parallel) and forget the finished ones."""
        await asyncio.gather(
            *(self.stop(w, grace_s) for w in list(self._managed)), return_exceptions=True
        )
        self._managed.clear()

    # --- internals ----------------------------------------------------------------------------

    def _child_env(
        self, workload: str, uid: str, spec: LaunchSpec, gpus: Sequence[int], checkpoint: Path
    ) -> dict[str, str]:
        visible = ",".join(str(int(g)) for g in gpus)
        # Set last so that a launch spec cannot claim other GPUs or another identity.
        injected = {
            "CUDA_VISIBLE_DEVICES": visible,
            "NVIDIA_VISIBLE_DEVICES": visible,
            # The agent numbers GPUs as NVML does (PCI bus order); CUDA's default order is
            # "fastest first", which can differ on mixed machines. This makes them agree.
            "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
            "AIWO_WORKLOAD": workload,
            "AIWO_WORKLOAD_UID": uid,
            "AIWO_CHECKPOINT_DIR": str(checkpoint),
            "AIWO_CONTROLLER": self.controller_address,
            **({"AIWO_OWNER": self.owner} if self.owner else {}),
        }
        return {**self._base_env, **dict(spec.env), **injected}

    async def reap_leftovers(self, grace_s: float = 5.0) -> list[int]:
        """Stop every process group a previous run of this agent left behind.

        Called before the agent connects: the controller's assignment set then starts what
        should run here, exactly once. Returns the process groups it stopped."""
        if not self.owner:
            return []
        groups = await asyncio.to_thread(
            process_group.owned_groups, f"AIWO_OWNER={self.owner}".encode()
        )
        for pgid in sorted(groups):
            await process_group.terminate_group(pgid, grace_s)
        return sorted(groups)

    def _assign_port(self, managed: _Managed) -> None:
        """Give a replica its port (kept while free, else one no other replica holds)."""
        taken = {
            m.port for m in self._managed.values() if m is not managed and not m.finished.is_set()
        }
        port = ports.replica_port(managed.port, taken)
        if port is None:
            raise LaunchError("no free TCP port for the replica")
        if managed.port and port != managed.port:
            log.info("replica_port_changed", workload=managed.workload, old=managed.port, new=port)
        managed.port = port
        managed.env["AIWO_PORT"] = str(port)

    async def _spawn(self, managed: _Managed) -> None:
        spec = managed.spec
        if spec.serve:
            try:
                self._assign_port(managed)
            except OSError as exc:
                raise LaunchError(f"no free TCP port for the replica: {exc.strerror}") from exc
        # In a thread: the log directory may sit on a network filesystem.
        out, err = await asyncio.to_thread(
            process_group.open_logs, spec, *self.log_paths(managed.workload)
        )
        try:
            managed.process = await asyncio.create_subprocess_exec(
                *spec.command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=managed.env,
                cwd=spec.working_dir,
                start_new_session=True,
            )
        except OSError as exc:
            raise LaunchError(process_group.launch_failure(exc, spec)) from exc
        finally:
            # The child holds its own copies; ours would only leak a descriptor per start.
            out.close()
            err.close()
        managed.started_at = time.monotonic()
        await self._attach(managed)
        if spec.serve and self.replicas is not None:
            pid = managed.process.pid
            self.replicas.watch(managed.workload, pid, managed.port, spec.health_path)

    async def _watch(self, managed: _Managed) -> None:
        """Wait for each exit, report it, and restart while the policy allows."""
        try:
            while managed.process is not None:
                returncode = await managed.process.wait()
                ran_s = time.monotonic() - managed.started_at
                if managed.spec.serve and self.replicas is not None:
                    self.replicas.forget(managed.workload)  # "unready" before "exited"
                # Whatever the workload forked and left running goes with it.
                await self._resume(managed.workload)
                await process_group.terminate_group(managed.process.pid, self._leftover_grace_s)
                decision = decide_restart(
                    managed.spec,
                    restarts=managed.restarts,
                    stopping=managed.stopping,
                    returncode=returncode,
                    ran_s=ran_s,
                )
                managed.restarts = decision.restarts
                self._emit_exit(managed, returncode, decision.detail, decision.outcome)
                delay_s = decision.delay_s
                if delay_s is None:
                    return
                managed.process = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(managed.wakeup.wait(), delay_s)
                if managed.stopping:
                    return
                managed.restarts += 1
                try:
                    await self._spawn(managed)
                except LaunchError as exc:
                    # No retry: a start that fails once (missing binary) fails every time.
                    self._emit(managed, "start_failed", detail=exc.reason, outcome="failed")
                    return
                self._emit(
                    managed,
                    "restarted",
                    pid=managed.process.pid if managed.process else 0,
                    detail=f"restart {managed.restarts}/{managed.spec.max_restarts}"
                    f" after {delay_s:.1f} s",
                    port=managed.port,
                )
        finally:
            if self.throttler is not None:
                with contextlib.suppress(ThrottleError):
                    await self.throttler.release(managed.workload)
            managed.finished.set()

    async def _attach(self, managed: _Managed) -> None:
        if self.throttler is None or managed.process is None:
            return
        try:
            await self.throttler.attach(managed.workload, managed.process.pid)
        except ThrottleError as exc:
            # The workload runs regardless; throttling it later will fail with a reason.
            log.warning("throttle_attach_failed", workload=managed.workload, reason=exc.reason)

    async def _resume(self, workload: str) -> None:
        """Lift freeze and CPU limit (if any) so the group can act on signals promptly."""
        if self.throttler is None:
            return
        with contextlib.suppress(ThrottleError):
            await self.throttler.thaw(workload)
            await self.throttler.set_cpu_fraction(workload, None)

    def _emit_exit(self, managed: _Managed, returncode: int, detail: str, outcome: str) -> None:
        pid = managed.process.pid if managed.process else 0
        signal_name = ""
        if returncode < 0:
            try:
                signal_name = signals.Signals(-returncode).name
            except ValueError:
                signal_name = f"SIG{-returncode}"
        managed.last_exit = self._emit(
            managed,
            "exited",
            pid=pid,
            exit_code=returncode,
            signal=signal_name,
            detail=detail,
            outcome=outcome,
            port=managed.port,
        )

    def _emit(
        self,
        managed: _Managed,
        kind: EventKind,
        *,
        pid: int = 0,
        exit_code: int | None = None,
        signal: str = "",
        detail: str = "",
        outcome: str = "",
        port: int = 0,
    ) -> ProcessEvent:
        event = ProcessEvent(
            managed.workload,
            kind,
            pid,
            exit_code,
            signal,
            detail,
            time_unix=time.time(),
            outcome=outcome,
            port=port,
        )
        log.info(
            "workload_process_event",
            workload=event.workload,
            kind=kind,
            pid=event.pid,
            exit_code=event.exit_code,
            signal=event.signal,
            detail=event.detail,
        )
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # a broken listener must not stop supervision
                log.exception("process_event_listener_failed", workload=event.workload)
        return event


def _split(workload: str) -> tuple[str, str]:
    # Workload ids become paths (logs, checkpoints); the check keeps them inside our dirs.
    if not is_workload_id(workload):
        raise SupervisorError(f"invalid workload id {workload!r}: expected namespace/name")
    namespace, name = workload.split("/")
    return namespace, name
