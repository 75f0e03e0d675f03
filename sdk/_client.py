"""`Client`: what an application uses to register itself and follow its placement."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterable, Mapping
from typing import Any

from sdk import _convert as convert
from sdk._attach import AttachSession, DirectiveHandler
from sdk._channel import Connection, ConnectionClient
from sdk._config import ClientConfig
from sdk._errors import AiwoError, PlacementTimeout
from sdk._priority import resolve_priority
from sdk._types import (
    LaunchSpec,
    ModelVariant,
    Placement,
    Resources,
    SloHints,
    Workload,
    WorkloadPhase,
    WorkloadSpec,
)
from sdk.pb.aiwo.v1 import types_pb2, workload_pb2, workload_pb2_grpc

_TERMINAL = (WorkloadPhase.SUCCEEDED, WorkloadPhase.FAILED)


def make_spec(
    *,
    priority: str | int | None = None,
    slo: SloHints | None = None,
    resources: Resources | None = None,
    variants: Iterable[ModelVariant] = (),
    launch: LaunchSpec | None = None,
    service: str = "",
    labels: Mapping[str, str] | None = None,
) -> WorkloadSpec:
    """A `WorkloadSpec` from the keywords `Client.register` takes."""
    priority_class, priority_value = resolve_priority(priority)
    return WorkloadSpec(
        priority_class=priority_class,
        priority=priority_value,
        slo=slo or SloHints(),
        resources=resources or Resources(),
        variants=tuple(variants),
        launch=launch,
        labels=dict(labels or {}),
        service=service,
    )


class Client(ConnectionClient):
    """An asyncio client of the controller's WorkloadService.

    Create it with `await Client.connect(...)`; close it with `await client.close()` or
    use it as an async context manager.
    """

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._stub = workload_pb2_grpc.WorkloadServiceStub(connection.channel)

    @property
    def config(self) -> ClientConfig:
        return self._connection.config

    async def register(
        self,
        name: str,
        *,
        namespace: str | None = None,
        priority: str | int | None = None,
        slo: SloHints | None = None,
        resources: Resources | None = None,
        variants: Iterable[ModelVariant] = (),
        launch: LaunchSpec | None = None,
        service: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> WorkloadHandle:
        """Register a workload (idempotent for an identical spec).

        `priority` is a class name ("critical", "high", "normal" — the default — "low",
        "batch", "best-effort") or an integer 0..1000. Raises `AlreadyExists` when the
        name is taken by a different spec (use `handle.update`), `Unschedulable` when it
        can never fit, `InvalidArgument` naming the bad field.
        """
        spec = make_spec(
            priority=priority,
            slo=slo,
            resources=resources,
            variants=variants,
            launch=launch,
            service=service,
            labels=labels,
        )
        return await self.register_spec(name, spec, namespace=namespace)

    async def register_spec(
        self, name: str, spec: WorkloadSpec, *, namespace: str | None = None
    ) -> WorkloadHandle:
        """Register from a ready `WorkloadSpec` (e.g. one read from a file)."""
        ns = namespace or self.config.namespace
        reply: types_pb2.Workload = await self._connection.call(
            self._stub.Register, convert.register_request(name, ns, spec)
        )
        handle = self.get_handle(name, namespace=ns)
        handle._last = convert.from_pb(Workload, reply)
        return handle

    def get_handle(self, name: str, *, namespace: str | None = None) -> WorkloadHandle:
        """A handle to an existing workload; no call is made until it is used."""
        return WorkloadHandle(self, name, namespace or self.config.namespace)

    async def get(self, name: str, *, namespace: str | None = None) -> Workload:
        ns = namespace or self.config.namespace
        reply: types_pb2.Workload = await self._connection.call(
            self._stub.Get, workload_pb2.GetWorkloadRequest(name=name, namespace=ns)
        )
        return convert.from_pb(Workload, reply)


class WorkloadHandle:
    """One registered workload: follow its placement, change it, attach to it."""

    def __init__(self, client: Client, name: str, namespace: str) -> None:
        self._client = client
        self.name = name
        self.namespace = namespace
        self._last: Workload | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def last_seen(self) -> Workload | None:
        """The workload as of the last call that returned it (no call is made)."""
        return self._last

    async def describe(self) -> Workload:
        self._last = await self._client.get(self.name, namespace=self.namespace)
        return self._last

    # A timeout argument, as in Temporal's handles: simpler for callers than a scope.
    async def wait_placed(self, timeout: float | None = None) -> Placement:  # noqa: ASYNC109
        """Wait until the controller has placed the workload; return where.

        Raises `PlacementTimeout` after `timeout` seconds (None = wait forever) with the
        last phase and the controller's reason, e.g. why it is unschedulable.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        # Placement usually lands within milliseconds of registration: ask again soon,
        # then back off to the configured interval.
        pause = min(0.01, self._client.config.placement_poll_s)
        while True:
            workload = await self.describe()
            placement = workload.placement
            if placement is not None:
                return placement
            if workload.phase in _TERMINAL:
                raise AiwoError(f"workload {self.key} ended ({workload.phase}) before placement")
            if deadline is not None and time.monotonic() >= deadline:
                why = f": {workload.message}" if workload.message else ""
                raise PlacementTimeout(
                    f"workload {self.key} not placed within {timeout:g}s "
                    f"(phase {workload.phase}{why})"
                )
            wait = pause
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            await asyncio.sleep(wait)
            pause = min(pause * 2, self._client.config.placement_poll_s)

    async def update(
        self,
        *,
        priority: str | int | None = None,
        slo: SloHints | None = None,
        resources: Resources | None = None,
        variants: Iterable[ModelVariant] | None = None,
        launch: LaunchSpec | None = None,
        service: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Workload:
        """Change the given parts of the spec; arguments left as None stay as they are.

        The change is conditional on the generation read just before, so a concurrent
        update makes this raise `Conflict` instead of silently undoing the other one.
        """
        current = await self.describe()
        changes: dict[str, Any] = {}
        if priority is not None:
            changes["priority_class"], changes["priority"] = resolve_priority(priority)
        for key, value in (
            ("slo", slo),
            ("resources", resources),
            ("launch", launch),
            ("service", service),
        ):
            if value is not None:
                changes[key] = value
        if variants is not None:
            changes["variants"] = tuple(variants)
        if labels is not None:
            changes["labels"] = dict(labels)
        spec = dataclasses.replace(current.spec, **changes)
        connection = self._client._connection
        reply: types_pb2.Workload = await connection.call(
            self._client._stub.Update,
            convert.update_request(self.name, self.namespace, spec, current.generation),
        )
        self._last = convert.from_pb(Workload, reply)
        return self._last

    async def deregister(self) -> None:
        connection = self._client._connection
        await connection.call(
            self._client._stub.Deregister,
            workload_pb2.DeregisterWorkloadRequest(name=self.name, namespace=self.namespace),
        )

    def attach(self, *, on_directive: DirectiveHandler | None = None) -> AttachSession:
        """Open the metrics/directives stream: `async with handle.attach() as session:`.

        Directives arrive through `session.directives()` or, when `on_directive` is
        given, through that callback; each is acknowledged when handling returns (failed,
        with the exception's text, when it raises). The stream reconnects with backoff
        when the controller restarts.
        """
        session = AttachSession(
            self._client._connection, self._client._stub, self.name, self.namespace
        )
        if on_directive is not None:
            session.on_directive(on_directive)
        return session
