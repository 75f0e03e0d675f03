"""Synchronous wrappers: the async clients driven by an event loop in a background thread.

grpc.aio channels belong to the loop that created them, so each sync client owns one
loop thread and runs every call on it; the caller's thread just waits for the result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

from sdk._admin import AdminClient
from sdk._attach import AttachSession
from sdk._client import Client, WorkloadHandle
from sdk._config import ClientConfig
from sdk._migration import DrainResult, Migration, WorkloadLogs
from sdk._serving import Service, ServiceSpec
from sdk._types import (
    ClusterInfo,
    Description,
    Directive,
    Event,
    Explanation,
    Gpu,
    LaunchSpec,
    ModelVariant,
    Node,
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


class SyncClient:
    """`Client` for code without asyncio: `SyncClient.connect()`; same methods, blocking."""

    def __init__(self, runner: _LoopThread, client: Client) -> None:
        self._runner = runner
        self._client = client

    @classmethod
    def connect(
        cls, target: str | None = None, *, config: ClientConfig | None = None
    ) -> SyncClient:
        runner, client = _connect(lambda: Client.connect(target, config=config))
        return cls(runner, client)

    @property
    def target(self) -> str:
        return self._client.target

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

    def get(self, name: str, *, namespace: str | None = None) -> Workload:
        return self._runner.run(self._client.get(name, namespace=namespace))

    def close(self) -> None:
        try:
            self._runner.run(self._client.close(), timeout=5)
        finally:
            self._runner.stop()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


class SyncAdminClient:
    """`AdminClient` for code without asyncio (the `aiwo` CLI uses this)."""

    def __init__(self, runner: _LoopThread, client: AdminClient) -> None:
        self._runner = runner
        self._client = client

    @classmethod
    def connect(
        cls, target: str | None = None, *, config: ClientConfig | None = None
    ) -> SyncAdminClient:
        runner, client = _connect(lambda: AdminClient.connect(target, config=config))
        return cls(runner, client)

    @property
    def target(self) -> str:
        return self._client.target

    def list_nodes(self) -> list[Node]:
        return self._runner.run(self._client.list_nodes())

    def get_node(self, name: str) -> Node:
        return self._runner.run(self._client.get_node(name))

    def list_gpus(self, node: str | None = None) -> list[Gpu]:
        return self._runner.run(self._client.list_gpus(node))

    def list_workloads(
        self, namespace: str | None = None, *, page_size: int = 500
    ) -> list[Workload]:
        return self._runner.run(self._client.list_workloads(namespace, page_size=page_size))

    def list_events(self, object: str = "", limit: int = 0) -> list[Event]:
        return self._runner.run(self._client.list_events(object, limit))

    def cordon(self, name: str, reason: str = "") -> Node:
        return self._runner.run(self._client.cordon(name, reason))

    def uncordon(self, name: str) -> Node:
        return self._runner.run(self._client.uncordon(name))

    def describe_node(self, name: str) -> Description:
        return self._runner.run(self._client.describe_node(name))

    def describe_workload(self, name: str, namespace: str | None = None) -> Description:
        return self._runner.run(self._client.describe_workload(name, namespace))

    def explain(self, name: str, namespace: str | None = None) -> Explanation:
        return self._runner.run(self._client.explain(name, namespace))

    def cluster_info(self) -> ClusterInfo:
        return self._runner.run(self._client.cluster_info())

    def migrate(
        self,
        name: str,
        to: str | None = None,
        *,
        namespace: str | None = None,
        reason: str = "",
    ) -> Migration:
        return self._runner.run(self._client.migrate(name, to, namespace=namespace, reason=reason))

    def get_migration(self, name: str, namespace: str | None = None) -> Migration:
        return self._runner.run(self._client.get_migration(name, namespace))

    def list_migrations(self, namespace: str | None = None) -> list[Migration]:
        return self._runner.run(self._client.list_migrations(namespace))

    def drain(self, node: str, reason: str = "") -> DrainResult:
        return self._runner.run(self._client.drain(node, reason))

    def logs(
        self,
        name: str,
        namespace: str | None = None,
        *,
        stderr: bool = False,
        tail_bytes: int = 0,
        node: str | None = None,
    ) -> WorkloadLogs:
        return self._runner.run(
            self._client.logs(name, namespace, stderr=stderr, tail_bytes=tail_bytes, node=node)
        )

    def create_service(
        self, name: str, spec: ServiceSpec, *, namespace: str | None = None
    ) -> Service:
        return self._runner.run(self._client.create_service(name, spec, namespace=namespace))

    def get_service(self, name: str, namespace: str | None = None) -> Service:
        return self._runner.run(self._client.get_service(name, namespace))

    def list_services(self, namespace: str | None = None) -> list[Service]:
        return self._runner.run(self._client.list_services(namespace))

    def scale_service(
        self,
        name: str,
        replicas: int | None = None,
        *,
        auto: bool = False,
        namespace: str | None = None,
    ) -> Service:
        return self._runner.run(
            self._client.scale_service(name, replicas, auto=auto, namespace=namespace)
        )

    def delete_service(self, name: str, namespace: str | None = None) -> None:
        self._runner.run(self._client.delete_service(name, namespace))

    def close(self) -> None:
        try:
            self._runner.run(self._client.close(), timeout=5)
        finally:
            self._runner.stop()

    def __enter__(self) -> SyncAdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
