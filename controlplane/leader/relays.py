"""Bytes the leader passes between agents and callers: checkpoints and log tails.

Neither goes into etcd (the design keeps bulk data out of it). A checkpoint is held in the
leader's memory from the source's last chunk until the target has it, verified on arrival;
a leader that dies mid-transfer loses only the copy, and its successor asks the source again.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass, field

import structlog

from controlplane.view.sessions import AgentSession
from sdk.pb.aiwo.v1 import node_pb2

log = structlog.get_logger("aiwo.relays")

CHUNK_BYTES = 1024 * 1024  # as the agents cut them: well under gRPC's 4 MiB message limit


@dataclass
class Transfer:
    transfer_id: str
    workload: str
    source: str
    data: bytearray = field(default_factory=bytearray)
    complete: bool = False
    sha256: str = ""
    error: str = ""


class CheckpointRelay:
    """Collects a checkpoint from its source agent and hands it to the target agent."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._transfers: dict[str, Transfer] = {}

    def expect(self, transfer_id: str, workload: str, source: str) -> None:
        self._transfers[transfer_id] = Transfer(transfer_id, workload, source)

    def get(self, transfer_id: str) -> Transfer | None:
        return self._transfers.get(transfer_id)

    def drop(self, transfer_id: str) -> None:
        self._transfers.pop(transfer_id, None)

    def on_chunk(self, node: str, chunk: node_pb2.CheckpointChunk) -> None:
        transfer = self._transfers.get(chunk.transfer_id)
        if transfer is None or transfer.complete or transfer.error:
            return  # a retried or abandoned transfer's leftovers
        if node != transfer.source or chunk.workload != transfer.workload:
            # Only the source may fill a transfer (the stream is the node's, mutual TLS).
            log.warning(
                "checkpoint_chunk_refused",
                node=node,
                source=transfer.source,
                transfer=chunk.transfer_id,
            )
            return
        if chunk.offset != len(transfer.data):
            transfer.error = (
                f"checkpoint transfer broken: chunk at offset {chunk.offset}, "
                f"expected {len(transfer.data)}"
            )
            return
        if len(transfer.data) + len(chunk.data) > self.max_bytes:
            transfer.error = (
                f"checkpoint is over the {self.max_bytes / 2**20:.0f} MiB limit of a transfer"
            )
            transfer.data = bytearray()
            return
        transfer.data += chunk.data
        if not chunk.last:
            return
        actual = hashlib.sha256(transfer.data).hexdigest()
        if chunk.total_bytes != len(transfer.data) or actual != chunk.sha256:
            transfer.error = (
                f"checkpoint is corrupt: {len(transfer.data)} bytes with sha256 {actual[:16]}…, "
                f"the source sent {chunk.total_bytes} bytes with sha256 {chunk.sha256[:16]}…"
            )
            return
        transfer.sha256 = actual
        transfer.complete = True

    def forward(self, transfer_id: str, session: AgentSession) -> bool:
        """Queue the verified checkpoint to the target's stream; False if it does not fit."""
        transfer = self._transfers[transfer_id]
        data = bytes(transfer.data)
        offsets = range(0, max(len(data), 1), CHUNK_BYTES)
        for offset in offsets:
            piece = data[offset : offset + CHUNK_BYTES]
            last = offset + CHUNK_BYTES >= len(data)
            chunk = node_pb2.CheckpointChunk(
                transfer_id=transfer_id,
                workload=transfer.workload,
                offset=offset,
                data=piece,
                last=last,
            )
            if last:
                chunk.total_bytes = len(data)
                chunk.sha256 = transfer.sha256
            if not session.send(node_pb2.ControllerMessage(checkpoint_chunk=chunk)):
                return False
        return True


class LogsUnavailable(Exception):
    """No answer from the node, or the node said why not."""


class LogRefused(LogsUnavailable):
    """The node answered: it has no such log (the process never started there) or cannot
    read it. Not the controller's or the network's fault."""


class LogRelay:
    """Asks an agent for the tail of a workload's log and waits for the answer."""

    def __init__(self) -> None:
        self._waiting: dict[str, tuple[str, asyncio.Future[node_pb2.AgentLogsReply]]] = {}

    async def fetch(
        self,
        session: AgentSession,
        workload: str,
        stderr: bool,
        tail_bytes: int,
        timeout_s: float = 10.0,
    ) -> node_pb2.AgentLogsReply:
        request_id = uuid.uuid4().hex[:16]
        future: asyncio.Future[node_pb2.AgentLogsReply] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = (session.node, future)
        try:
            request = node_pb2.AgentLogsRequest(
                request_id=request_id, workload=workload, stderr=stderr, tail_bytes=tail_bytes
            )
            if not session.send(node_pb2.ControllerMessage(logs_request=request)):
                raise LogsUnavailable(f"node {session.node}'s stream is full; try again")
            try:
                reply = await asyncio.wait_for(future, timeout_s)
            except TimeoutError:
                raise LogsUnavailable(
                    f"node {session.node} did not answer within {timeout_s:g}s"
                ) from None
        finally:
            self._waiting.pop(request_id, None)
        if not reply.ok:
            raise LogRefused(reply.reason or f"node {session.node} refused")
        return reply

    def on_reply(self, node: str, reply: node_pb2.AgentLogsReply) -> None:
        waiting = self._waiting.get(reply.request_id)
        if waiting is None or waiting[0] != node or waiting[1].done():
            return  # late, or from a node that was not asked
        waiting[1].set_result(reply)
