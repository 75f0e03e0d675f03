"""Synchronous wrappers: the async clients driven by an event loop in a background thread.

grpc.aio channels belong to the loop that created them, so each sync client owns one
loop thread and runs every call on it; the caller's thread just waits for the result.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import typing
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from sdk._admin import AdminClient
from sdk._attach import AttachSession
from sdk._channel import ConnectionClient
from sdk._client import Client, WorkloadHandle
from sdk._config import ClientConfig
from sdk._types import Directive

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


S = TypeVar("S")  # an async object that the loop thread drives: a client, handle, session
C = TypeVar("C", bound=ConnectionClient)
R = TypeVar("R")
P = ParamSpec("P")


class OnLoop(Generic[S]):
    """An async object S driven from other threads: each call runs on the loop thread."""

    def __init__(self, runner: _LoopThread, of: S) -> None:
        self._runner = runner
        self._async = of


class mirrored(Generic[S, T]):
    """A read-only attribute of the async object (a property), read as it is: no call."""

    def __init__(self, attribute: Callable[[S], T]) -> None:
        # On the class, a property: its getter names the attribute and documents it.
        getter = getattr(attribute, "fget", attribute)
        self._name: str = getter.__name__
        self.__doc__ = getter.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...

    @overload
    def __get__(self, obj: OnLoop[S], owner: type) -> T: ...

    def __get__(self, obj: OnLoop[S] | None, owner: type) -> Self | T:
        if obj is None:
            return self
        return typing.cast(T, getattr(obj._async, self._name))


@overload
def blocking(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[OnLoop[S], P], T]: ...


@overload
def blocking(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
    wrap: Callable[[_LoopThread, T], R],
) -> Callable[Concatenate[OnLoop[S], P], R]: ...


def blocking(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
    wrap: Callable[[_LoopThread, T], Any] | None = None,
) -> Callable[Concatenate[OnLoop[S], P], Any]:
    """The blocking twin of an async method: same parameters, same docstring. With `wrap`,
    what it returns is wrapped for sync use too (a `WorkloadHandle` -> `SyncWorkloadHandle`)."""

    @functools.wraps(method)
    def call(self: OnLoop[S], /, *args: P.args, **kwargs: P.kwargs) -> Any:
        result = self._runner.run(method(self._async, *args, **kwargs))
        return result if wrap is None else wrap(self._runner, result)

    if wrap is not None:
        returns = inspect.signature(method).replace(return_annotation=wrap.__name__)
        setattr(call, "__signature__", returns)  # noqa: B010 (mypy knows no __signature__)
    return call


class Blocking(OnLoop[C]):
    """A sync client derived from the async client C: it owns a loop thread, runs C there,
    and closes both. Its methods are C's, made blocking by `blocking`; a subclass names C
    in `_client`."""

    _client: type[C]

    @classmethod
    def connect(cls, target: str | None = None, *, config: ClientConfig | None = None) -> Self:
        """Connect to the controller at `target` (else $AIWO_CONTROLLER, else the cluster
        `aiwo up` recorded). Raises `ControllerUnavailable` if it is not there."""
        runner = _LoopThread()
        try:
            return cls(runner, runner.run(cls._client.connect(target, config=config)))
        except BaseException:
            runner.stop()
            raise

    @property
    def target(self) -> str:
        return self._async.target

    def close(self) -> None:
        try:
            self._runner.run(self._async.close(), timeout=5)
        finally:
            self._runner.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncAttachSession(OnLoop[AttachSession]):
    """`with handle.attach() as session:`; handlers run in a worker thread, not the loop."""

    placement = mirrored(AttachSession.placement)
    connected = mirrored(AttachSession.connected)
    throttle = mirrored(AttachSession.throttle)
    wait_connected = blocking(AttachSession.wait_connected)
    report = blocking(AttachSession.report)

    def on_directive(self, handler: Callable[[Directive], None]) -> None:
        async def in_thread(directive: Directive) -> None:
            # A blocking handler must not stall the loop that carries the stream.
            await asyncio.to_thread(handler, directive)

        self._runner.run(_call(self._async.on_directive, in_thread))

    def directives(self) -> Iterator[Directive]:
        stream = self._async.directives()
        while True:
            try:
                yield self._runner.run(anext(stream))
            except StopAsyncIteration:
                return

    def wait(self, timeout: float | None = None) -> None:
        self._runner.run(self._async.wait(), timeout)

    def __enter__(self) -> SyncAttachSession:
        self._runner.run(self._async.start())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._runner.run(self._async.__aexit__(exc_type, exc, tb))


class SyncWorkloadHandle(OnLoop[WorkloadHandle]):
    def __init__(self, runner: _LoopThread, handle: WorkloadHandle) -> None:
        super().__init__(runner, handle)
        self.name = handle.name
        self.namespace = handle.namespace

    key = mirrored(WorkloadHandle.key)
    last_seen = mirrored(WorkloadHandle.last_seen)
    describe = blocking(WorkloadHandle.describe)
    wait_placed = blocking(WorkloadHandle.wait_placed)
    update = blocking(WorkloadHandle.update)
    deregister = blocking(WorkloadHandle.deregister)

    def attach(
        self, *, on_directive: Callable[[Directive], None] | None = None
    ) -> SyncAttachSession:
        session = SyncAttachSession(self._runner, self._async.attach())
        if on_directive is not None:
            session.on_directive(on_directive)
        return session


class SyncClient(Blocking[Client]):
    """`Client` for code without asyncio: `SyncClient.connect()`; same methods, blocking."""

    _client = Client

    get = blocking(Client.get)
    register = blocking(Client.register, SyncWorkloadHandle)
    register_spec = blocking(Client.register_spec, SyncWorkloadHandle)

    def get_handle(self, name: str, *, namespace: str | None = None) -> SyncWorkloadHandle:
        return SyncWorkloadHandle(self._runner, self._async.get_handle(name, namespace=namespace))


async def _call(fn: Callable[..., T], *args: Any) -> T:
    """Run a plain function on the loop thread (for loop-bound state such as tasks)."""
    return fn(*args)


class SyncAdminClient(Blocking[AdminClient]):
    """`AdminClient` for code without asyncio (the `aiwo` CLI uses this). Each method is the
    async one, derived (`blocking`): same parameters, same result, blocking."""

    _client = AdminClient

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
    update_service = blocking(AdminClient.update_service)
    delete_service = blocking(AdminClient.delete_service)
