"""The agent's side of moving bytes through the controller: checkpoints and log tails.

Uploads run as a command (CheckpointWorkload: its id names the transfer, and its ack follows
the last chunk on the same ordered stream). Installs and log reads answer messages the
controller sends outside the command log: they carry data, which never goes into etcd.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

from nodeagent import checkpoint
from nodeagent.checkpoint import Assembly, CheckpointError
from nodeagent.gpu.base import ActuationError
from sdk.pb.aiwo.v1 import node_pb2

log = structlog.get_logger("aiwo.agent.transfers")

MAX_LOG_TAIL_BYTES = 1024 * 1024  # one reply stays well under gRPC's 4 MiB message limit

Send = Callable[[node_pb2.AgentMessage], Awaitable[None]]


class Transfers:
    def __init__(
        self,
        supervisor: Any,
        send: Send,
        max_bytes: int = checkpoint.MAX_CHECKPOINT_BYTES,
    ) -> None:
        self.supervisor = supervisor
        self.send = send
        self.max_bytes = max_bytes
        # Scratch space next to the checkpoints, so the final rename stays on one filesystem.
        # A dot-name cannot clash with a namespace ([a-z0-9-]).
        self.spool = Path(supervisor.checkpoint_root) / ".incoming"
        self._incoming: dict[str, Assembly] = {}

    # ------------------------------------------------------------ source side

    async def upload(self, transfer_id: str, workload: str) -> int:
        """Send the stopped workload's checkpoint up the stream; returns its size in bytes.

        Raises ActuationError (a failed ack) when it still runs or has no checkpoint here."""
        if workload in self.supervisor.running():
            raise ActuationError(
                f"workload {workload} is still running on this node; "
                "its checkpoint is sent only once it has stopped"
            )
        directory = self.supervisor.checkpoint_dir(workload)  # validates the id
        data = await asyncio.to_thread(checkpoint.pack, directory, self.max_bytes)
        sha256 = checkpoint.digest(data)
        for offset, piece, last in checkpoint.chunks(data):
            chunk = node_pb2.CheckpointChunk(
                transfer_id=transfer_id, workload=workload, offset=offset, data=piece, last=last
            )
            if last:
                chunk.total_bytes = len(data)
                chunk.sha256 = sha256
            await self.send(node_pb2.AgentMessage(checkpoint_chunk=chunk))
        log.info(
            "checkpoint_sent",
            workload=workload,
            transfer=transfer_id,
            bytes=len(data),
            sha256=sha256[:16],
        )
        return len(data)

    # ------------------------------------------------------------ target side

    async def receive(self, chunk: node_pb2.CheckpointChunk) -> None:
        """Spool one chunk; after the last, verify and install, and say how it went."""
        try:
            assembly = self._incoming.get(chunk.transfer_id)
            if assembly is None:
                if chunk.offset != 0:
                    return  # the rest of a transfer this agent already gave up on
                self._drop_other_transfers(chunk.workload)
                self.supervisor.checkpoint_dir(chunk.workload)  # validates the id
                if chunk.workload in self.supervisor.running():
                    raise CheckpointError(
                        f"workload {chunk.workload} runs on this node; "
                        "its checkpoint is not replaced under it"
                    )
                await asyncio.to_thread(self.spool.mkdir, parents=True, exist_ok=True)
                assembly = Assembly(
                    chunk.transfer_id,
                    chunk.workload,
                    self.spool / f"{_safe(chunk.transfer_id)}.tar.gz",
                    self.max_bytes,
                )
                self._incoming[chunk.transfer_id] = assembly
            await asyncio.to_thread(assembly.add, chunk.offset, chunk.data)
            if not chunk.last:
                return
            assembly.verify(chunk.total_bytes, chunk.sha256)
            destination = self.supervisor.checkpoint_dir(chunk.workload)
            await asyncio.to_thread(
                checkpoint.install, assembly.path, destination, _safe(chunk.transfer_id)
            )
        except ActuationError as exc:
            self._forget(chunk.transfer_id)
            log.warning(
                "checkpoint_install_failed",
                workload=chunk.workload,
                transfer=chunk.transfer_id,
                reason=exc.reason,
            )
            await self._installed(chunk, ok=False, reason=exc.reason)
            return
        except OSError as exc:
            self._forget(chunk.transfer_id)
            reason = f"cannot store the checkpoint: {exc.strerror or exc}"
            await self._installed(chunk, ok=False, reason=reason)
            return
        self._forget(chunk.transfer_id)
        log.info(
            "checkpoint_installed",
            workload=chunk.workload,
            transfer=chunk.transfer_id,
            bytes=assembly.received,
            path=str(destination),
        )
        await self._installed(chunk, ok=True, path=str(destination))

    async def _installed(
        self, chunk: node_pb2.CheckpointChunk, ok: bool, reason: str = "", path: str = ""
    ) -> None:
        await self.send(
            node_pb2.AgentMessage(
                checkpoint_installed=node_pb2.CheckpointInstalled(
                    transfer_id=chunk.transfer_id,
                    workload=chunk.workload,
                    ok=ok,
                    reason=reason,
                    path=path,
                )
            )
        )

    def _drop_other_transfers(self, workload: str) -> None:
        """A new transfer of a workload replaces an unfinished older one (a retry)."""
        for transfer_id, assembly in list(self._incoming.items()):
            if assembly.workload == workload:
                self._forget(transfer_id)

    def _forget(self, transfer_id: str) -> None:
        assembly = self._incoming.pop(transfer_id, None)
        if assembly is not None:
            assembly.discard()

    # ------------------------------------------------------------ logs

    async def logs(self, request: node_pb2.AgentLogsRequest) -> None:
        reply = node_pb2.AgentLogsReply(request_id=request.request_id)
        try:
            out, err = self.supervisor.log_paths(request.workload)  # validates the id
            path = err if request.stderr else out
            tail = min(max(request.tail_bytes, 0) or MAX_LOG_TAIL_BYTES, MAX_LOG_TAIL_BYTES)
            data, size = await asyncio.to_thread(_tail, path, tail)
            reply.ok = True
            reply.data = data
            reply.size_bytes = size
            reply.truncated = size > len(data)
        except FileNotFoundError:
            reply.reason = (
                f"workload {request.workload} has no log on this node: "
                "its process has not started here"
            )
        except (ActuationError, OSError) as exc:
            reply.reason = getattr(exc, "reason", None) or f"cannot read the log: {exc}"
        await self.send(node_pb2.AgentMessage(logs_reply=reply))


def _tail(path: Path, limit: int) -> tuple[bytes, int]:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(max(size - limit, 0))
        return f.read(limit), size


def _safe(transfer_id: str) -> str:
    """Transfer ids become file names: keep what a command id is made of."""
    return "".join(c for c in transfer_id if c.isalnum() or c == "-")[:64] or "transfer"
