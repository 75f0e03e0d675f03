"""Open streams: one per connected agent, any number per attached workload.

A session is a queue the stream's writer drains. Pushing never blocks the caller: a
slow stream drops its oldest telemetry-free messages only when its queue is full, and
commands stay persisted in etcd, so nothing is lost — they are resent on reconnect.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import structlog

from sdk.pb.aiwo.v1 import node_pb2, types_pb2

log = structlog.get_logger("aiwo.sessions")

QUEUE_LIMIT = 1024


@dataclass(eq=False)
class AgentSession:
    node: str
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    queue: asyncio.Queue[node_pb2.ControllerMessage] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT)
    )
    highest_epoch_seen: int = 0

    def send(self, message: node_pb2.ControllerMessage) -> bool:
        try:
            self.queue.put_nowait(message)
            return True
        except asyncio.QueueFull:
            log.warning("agent_queue_full", node=self.node)
            return False


@dataclass(eq=False)
class AppSession:
    workload: str
    queue: asyncio.Queue[types_pb2.Directive] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT)
    )

    def send(self, directive: types_pb2.Directive) -> bool:
        try:
            self.queue.put_nowait(directive)
            return True
        except asyncio.QueueFull:
            log.warning("app_queue_full", workload=self.workload)
            return False


class Sessions:
    def __init__(self) -> None:
        self.agents: dict[str, AgentSession] = {}
        self.apps: dict[str, list[AppSession]] = {}

    def open_agent(self, node: str) -> AgentSession:
        """A new stream for `node` replaces any older one (the agent reconnected)."""
        session = AgentSession(node)
        self.agents[node] = session
        return session

    def close_agent(self, session: AgentSession) -> None:
        if self.agents.get(session.node) is session:
            del self.agents[session.node]

    def agent(self, node: str) -> AgentSession | None:
        return self.agents.get(node)

    def open_app(self, workload: str) -> AppSession:
        session = AppSession(workload)
        self.apps.setdefault(workload, []).append(session)
        return session

    def close_app(self, session: AppSession) -> None:
        sessions = self.apps.get(session.workload, [])
        if session in sessions:
            sessions.remove(session)
        if not sessions:
            self.apps.pop(session.workload, None)

    def app_attached(self, workload: str) -> bool:
        return bool(self.apps.get(workload))

    def direct(self, directive: types_pb2.Directive) -> int:
        """Send to every attached session of the workload; returns how many got it."""
        return sum(s.send(directive) for s in self.apps.get(directive.workload, []))
