"""Synchronous wrappers: the async clients driven by an event loop in a background thread.

grpc.aio channels belong to the loop that created them, so each sync client owns one
loop thread and runs every call on it; the caller's thread just waits for the result.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar

from sdk._admin import AdminClient
from sdk._attach import AttachSession
from sdk._channel import ConnectionClient
from sdk._client import Client, WorkloadHandle
from sdk._config import ClientConfig
from sdk._types import (
    Directive,
    LaunchSpec,
    ModelVariant,
    Placement,
    Resources,
    SloHints,
    Workload,
    WorkloadSpec,
)

T = TypeVar("T")


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="aiwo-sdk", daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(_await(coro), self.loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt while waiting: stop the coroutine too
            raise

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _connect(factory: Callable[[], Coroutine[Any, Any, T]]) -> tuple[_LoopThread, T]:
    runner = _LoopThread()
    try:
        return runner, runner.run(factory())
    except BaseException:
        runner.stop()
        raise


A = TypeVar("A", bound=ConnectionClient)
P = ParamSpec("P")


class Blocking(Generic[A]):
    """A sync client derived from the async client A: it owns a loop thread, runs A there,
    and closes both. Its methods are A's, made blocking by `blocking`."""

    def __init__(self, runner: _LoopThread, client: A) -> None:
        self._runner = runner
        self._client = client

    def close(self) -> None:
        try:
            self._runner.run(self._client.close(), timeout=5)
        finally:
            self._runner.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def blocking(
    method: Callable[Concatenate[A, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[Blocking[A], P], T]:
    """The blocking twin of an async client's method: same signature, same docstring."""

    @functools.wraps(method)
    def call(self: Blocking[A], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._runner.run(method(self._client, *args, **kwargs))

    return call


class SyncClient(Blocking[Client]):
    """`Client` for code without asyncio: `SyncClient.connect()`; same methods, blocking."""

    @classmethod
    def connect(
        cls, target: str | None = None, *, config: ClientConfig | None = None
    ) -> SyncClient:
        runner, client = _connect(lambda: Client.connect(target, config=config))
        return cls(runner, client)

    @property
    def target(self) -> str:
        return self._client.target

    get = blocking(Client.get)

    def register(
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
    ) -> SyncWorkloadHandle:
        handle = self._runner.run(
            self._client.register(
                name,
                namespace=namespace,
                priority=priority,
                slo=slo,
                resources=resources,
                variants=tuple(variants),
                launch=launch,
                service=service,
                labels=labels,
            )
        )
        return SyncWorkloadHandle(self._runner, handle)

    def register_spec(
        self, name: str, spec: WorkloadSpec, *, namespace: str | None = None
    ) -> SyncWorkloadHandle:
        handle = self._runner.run(self._client.register_spec(name, spec, namespace=namespace))
        return SyncWorkloadHandle(self._runner, handle)

    def get_handle(self, name: str, *, namespace: str | None = None) -> SyncWorkloadHandle:
        return SyncWorkloadHandle(self._runner, self._client.get_handle(name, namespace=namespace))


class SyncWorkloadHandle:
    def __init__(self, runner: _LoopThread, handle: WorkloadHandle) -> None:
        self._runner = runner
        self._handle = handle
        self.name = handle.name
        self.namespace = handle.namespace

    @property
    def key(self) -> str:
        return self._handle.key

    @property
    def last_seen(self) -> Workload | None:
        return self._handle.last_seen

    def describe(self) -> Workload:
        return self._runner.run(self._handle.describe())

    def wait_placed(self, timeout: float | None = None) -> Placement:
        return self._runner.run(self._handle.wait_placed(timeout))

    def update(self, **changes: Any) -> Workload:
        """Same keywords as `WorkloadHandle.update`."""
        return self._runner.run(self._handle.update(**changes))

    def deregister(self) -> None:
        self._runner.run(self._handle.deregister())

    def attach(
        self, *, on_directive: Callable[[Directive], None] | None = None
    ) -> SyncAttachSession:
        session = SyncAttachSession(self._runner, self._handle.attach())
        if on_directive is not None:
            session.on_directive(on_directive)
        return session


class SyncAttachSession:
    """`with handle.attach() as session:`; handlers run in a worker thread, not the loop."""

    def __init__(self, runner: _LoopThread, session: AttachSession) -> None:
        self._runner = runner
        self._session = session

    @property
    def placement(self) -> Placement | None:
        return self._session.placement

    @property
    def connected(self) -> bool:
        return self._session.connected

    @property
    def throttle(self) -> float | None:
        return self._session.throttle

    def wait_connected(self, timeout: float | None = None) -> None:
        self._runner.run(self._session.wait_connected(timeout))

    def report(
        self, latency_ms: Iterable[float] = (), throughput_per_s: float = 0.0, queue_depth: int = 0
    ) -> None:
        self._runner.run(self._session.report(list(latency_ms), throughput_per_s, queue_depth))

    def on_directive(self, handler: Callable[[Directive], None]) -> None:
        async def in_thread(directive: Directive) -> None:
            # A blocking handler must not stall the loop that carries the stream.
            await asyncio.to_thread(handler, directive)

        self._runner.run(_call(self._session.on_directive, in_thread))

    def directives(self) -> Iterator[Directive]:
        stream = self._session.directives()
        while True:
            try:
                yield self._runner.run(anext(stream))
            except StopAsyncIteration:
                return

    def wait(self, timeout: float | None = None) -> None:
        self._runner.run(self._session.wait(), timeout)

    def __enter__(self) -> SyncAttachSession:
        self._runner.run(self._session.start())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._runner.run(self._session.__aexit__(exc_type, exc, tb))


async def _call(fn: Callable[..., T], *args: Any) -> T:
    """Run a plain function on the loop thread (for loop-bound state such as tasks)."""
    return fn(*args)


class SyncAdminClient(Blocking[AdminClient]):
    """`AdminClient` for code without asyncio (the `aiwo` CLI uses this). Each method is the
    async one, derived (`blocking`): same parameters, same result, blocking."""

    @classmethod
    def connect(
        cls, target: str | None = None, *, config: ClientConfig | None = None
    ) -> SyncAdminClient:
        runner, client = _connect(lambda: AdminClient.connect(target, config=config))
        return cls(runner, client)

    @property
    def target(self) -> str:
        return self._client.target

    list_nodes = blocking(AdminClient.list_nodes)
    get_node = blocking(AdminClient.get_node)
    list_gpus = blocking(AdminClient.list_gpus)
    list_workloads = blocking(AdminClient.list_workloads)
    list_events = blocking(AdminClient.list_events)
    cordon = blocking(AdminClient.cordon)
    uncordon = blocking(AdminClient.uncordon)
    describe_node = blocking(AdminClient.describe_node)
    describe_workload = blocking(AdminClient.describe_workload)
    explain = blocking(AdminClient.explain)
    cluster_info = blocking(AdminClient.cluster_info)
    migrate = blocking(AdminClient.migrate)
    get_migration = blocking(AdminClient.get_migration)
    list_migrations = blocking(AdminClient.list_migrations)
    drain = blocking(AdminClient.drain)
    logs = blocking(AdminClient.logs)
    create_service = blocking(AdminClient.create_service)
    get_service = blocking(AdminClient.get_service)
    list_services = blocking(AdminClient.list_services)
    scale_service = blocking(AdminClient.scale_service)
    delete_service = blocking(AdminClient.delete_service)
