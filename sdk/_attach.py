"""`AttachSession`: one workload's metrics going up and directives coming down.

Three tasks per session: the stream loop (connects, reads directives, reconnects with
backoff), a writer per connection (drains the outbox), and in callback mode a dispatcher
that runs the handler. Keeping the handler off the reading task means a slow checkpoint
never stalls the stream, and a reconnect never interrupts a running handler.

Acknowledgement: in callback mode, when the handler returns (failed, with the exception
text, when it raises). In iterator mode, when the loop asks for the next directive, or
when the `async with` block ends — failed if it ends with an exception.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any

import grpc
import grpc.aio

from sdk import _convert as convert
from sdk._channel import Connection
from sdk._errors import AiwoError, ControllerUnavailable, finished_call_error
from sdk._metadata import ELECTION_RETRY_S, accepted, electing
from sdk._tasks import cancel_and_wait
from sdk._types import Directive, DirectiveKind, Placement
from sdk.pb.aiwo.v1 import workload_pb2

log = logging.getLogger("sdk.attach")

DirectiveHandler = Callable[[Directive], Awaitable[None] | None]

# Errors worth a reconnect: the controller went away, restarted, or hiccuped. Anything
# else (NOT_FOUND: deregistered; INVALID_ARGUMENT; PERMISSION_DENIED) will not get
# better by retrying and ends the session with that error.
_RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
_SEEN_LIMIT = 1024  # directive ids remembered for de-duplication after a reconnect
_FLUSH_TIMEOUT_S = 2.0  # how long closing waits for queued messages to go out
_HEALTHY_AFTER_S = 5.0  # a stream that lived this long resets the backoff


class _End:
    """Inbox marker: the session ended, with an error or cleanly."""

    def __init__(self, error: AiwoError | None) -> None:
        self.error = error


class AttachSession:
    """Use as `async with handle.attach() as session:`."""

    def __init__(self, connection: Connection, stub: Any, name: str, namespace: str) -> None:
        self._connection = connection
        self._stub = stub
        self.name = name
        self.namespace = namespace
        self._outbox: collections.deque[workload_pb2.AppMessage] = collections.deque()
        self._wakeup = asyncio.Event()
        self._inbox: asyncio.Queue[Directive | _End] = asyncio.Queue()
        self._handler: DirectiveHandler | None = None
        self._iterating = False
        self._pending: Directive | None = None  # delivered by the iterator, not yet acked
        self._acks: collections.OrderedDict[str, tuple[bool, str]] = collections.OrderedDict()
        self._delivered: set[str] = set()
        self._placement: Placement | None = None
        self._throttle: float | None = None  # the THROTTLE factor acked, until UNTHROTTLE
        self._connected = asyncio.Event()
        self._error: AiwoError | None = None
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self.reconnects = 0  # times the stream came back after a failure

    # ------------------------------------------------------------ public surface

    @property
    def placement(self) -> Placement | None:
        """The latest placement from a PLACEMENT or MIGRATE directive."""
        return self._placement

    @property
    def throttle(self) -> float | None:
        """The cooperative throttle in force: the factor of the last THROTTLE directive
        handled without error, until an UNTHROTTLE; None when the workload runs free.
        Sent with every metrics report, so that the controller knows it too."""
        return self._throttle

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until the stream is open (hello sent)."""
        self._raise_if_failed()
        waiter = asyncio.ensure_future(self._connected.wait())
        ended = asyncio.ensure_future(self._ended())
        try:
            await asyncio.wait({waiter, ended}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            waiter.cancel()
            ended.cancel()
        self._raise_if_failed()
        if not self._connected.is_set():
            raise ControllerUnavailable(self._connection.target, "attach stream not open")

    async def report(
        self,
        latency_ms: Iterable[float] = (),
        throughput_per_s: float = 0.0,
        queue_depth: int = 0,
    ) -> None:
        """Queue one metrics report: request latencies since the last report (ms), the
        current throughput (per second) and queue depth. Sent as soon as connected."""
        self._raise_if_failed()
        if self._closing:
            raise AiwoError(f"attach session of {self.namespace}/{self.name} is closed")
        self._send(
            convert.metrics_message(
                list(latency_ms), throughput_per_s, queue_depth, throttle_factor=self._throttle
            )
        )

    def on_directive(self, handler: DirectiveHandler) -> None:
        """Handle directives with `handler` (sync or async) instead of iterating."""
        if self._iterating:
            raise RuntimeError("directives are already consumed through directives()")
        if self._handler is not None:
            raise RuntimeError("a directive handler is already set")
        self._handler = handler
        if self._tasks:  # already started: start dispatching now
            self._tasks.append(asyncio.create_task(self._dispatch()))

    async def directives(self) -> AsyncIterator[Directive]:
        """Directives as they arrive; ends when the session closes, raises on failure."""
        if self._handler is not None:
            raise RuntimeError("directives go to the on_directive handler")
        self._iterating = True
        while True:
            self._ack_pending(ok=True)
            item = await self._inbox.get()
            if isinstance(item, _End):
                self._inbox.put_nowait(item)  # later readers see the end too
                if item.error is not None:
                    raise item.error
                return
            self._pending = item
            yield item

    async def wait(self) -> None:
        """Wait until the session ends; raise the error that ended it, if any."""
        await self._ended()
        self._raise_if_failed()

    async def start(self) -> None:
        if self._tasks:
            return
        self._tasks.append(asyncio.create_task(self._run(), name=f"aiwo-attach-{self.name}"))
        if self._handler is not None:
            self._tasks.append(asyncio.create_task(self._dispatch()))

    async def close(self) -> None:
        """Send what is queued, half-close, and wait (briefly) for the controller to end the
        stream: cancelling a call can discard messages that gRPC accepted but had not sent,
        such as the ack of the directive the application failed on."""
        if self._closing:
            return
        self._closing = True
        if self._connected.is_set() and self._tasks:
            self._wakeup.set()  # the writer sees _closing once the outbox is empty
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_FLUSH_TIMEOUT_S):
                    await asyncio.wait([self._tasks[0]])
        await cancel_and_wait(self._tasks)
        self._inbox.put_nowait(_End(None))

    async def __aenter__(self) -> AttachSession:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or isinstance(exc, asyncio.CancelledError | GeneratorExit):
            self._ack_pending(ok=True)
        else:
            self._ack_pending(ok=False, reason=f"{type(exc).__name__}: {exc}")
        await self.close()

    # ------------------------------------------------------------ acks and delivery

    def _send(self, message: workload_pb2.AppMessage) -> None:
        limit = max(1, self._connection.config.attach_buffer)
        if len(self._outbox) >= limit:
            # Drop the oldest metrics report; acks are small and the controller waits for them.
            for i, queued in enumerate(self._outbox):
                if queued.HasField("metrics"):
                    del self._outbox[i]
                    break
            else:
                self._outbox.popleft()
        self._outbox.append(message)
        self._wakeup.set()

    def _ack(self, directive: Directive, ok: bool, reason: str = "") -> None:
        if ok and directive.kind is DirectiveKind.THROTTLE:
            self._throttle = directive.factor
        elif ok and directive.kind is DirectiveKind.UNTHROTTLE:
            self._throttle = None
        self._acks[directive.id] = (ok, reason)
        while len(self._acks) > _SEEN_LIMIT:
            self._acks.popitem(last=False)
        self._delivered.discard(directive.id)
        self._send(convert.ack_message(directive.id, ok, reason))

    def _ack_pending(self, ok: bool, reason: str = "") -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._ack(pending, ok, reason)

    def _receive(self, directive: Directive) -> None:
        if directive.id in self._acks:
            # A replay after a reconnect: the controller missed our ack, so repeat it
            # instead of handing the application the same directive twice.
            ok, reason = self._acks[directive.id]
            self._send(convert.ack_message(directive.id, ok, reason))
            return
        if directive.id and directive.id in self._delivered:
            return  # still being handled; its ack will follow
        if directive.id:
            self._delivered.add(directive.id)
        if directive.kind in (DirectiveKind.PLACEMENT, DirectiveKind.MIGRATE) and directive.node:
            self._placement = Placement(
                directive.node, directive.gpus, directive.milli_gpu, variant=directive.variant
            )
        self._inbox.put_nowait(directive)

    async def _dispatch(self) -> None:
        assert self._handler is not None
        while True:
            item = await self._inbox.get()
            if isinstance(item, _End):
                self._inbox.put_nowait(item)
                return
            try:
                result = self._handler(item)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("directive handler failed: %s (%s)", exc, item.kind)
                self._ack(item, False, f"{type(exc).__name__}: {exc}")
            else:
                self._ack(item, True)

    # ------------------------------------------------------------ the stream

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    async def _ended(self) -> None:
        if self._tasks:
            await asyncio.wait([self._tasks[0]])

    def _fail(self, error: AiwoError) -> None:
        self._error = error
        self._inbox.put_nowait(_End(error))

    async def _run(self) -> None:
        policy = self._connection.config.reconnect
        failures = 0
        while not self._closing:
            opened = asyncio.get_running_loop().time()
            error = await self._connect_once()
            if self._closing:
                return
            if asyncio.get_running_loop().time() - opened >= _HEALTHY_AFTER_S:
                failures = 0  # it was up for a while: start the backoff from the bottom
            if error is not None and error.code() not in _RETRYABLE:
                self._fail(self._connection.error(error))
                return
            failures += 1
            if policy.max_attempts is not None and failures > policy.max_attempts:
                detail = error.details() if error is not None else "stream ended"
                self._fail(ControllerUnavailable(self._connection.target, detail or ""))
                return
            delay = policy.delay_s(failures)
            if error is not None and electing(error.trailing_metadata()):
                delay = min(delay, ELECTION_RETRY_S)
            log.info("attach stream lost; reconnecting in %.2fs", delay)
            await asyncio.sleep(delay)
            self.reconnects += 1

    async def _connect_once(self) -> grpc.aio.AioRpcError | None:
        """One stream, start to end. Returns the error that ended it (None: clean end)."""
        call = self._stub.Attach(metadata=self._connection.metadata)
        writer: asyncio.Task[None] | None = None
        try:
            await call.write(convert.hello_message(self.name, self.namespace))
            # A write only hands a message to gRPC: until the controller has accepted the
            # hello, anything written could go into a call it is about to refuse (it is down,
            # or does not lead) and be lost. Its initial metadata says it accepted; a refusal
            # comes trailers-only, without the key. (`wait_for_connection` would not do: on
            # a stream it only waits for our own metadata to be sent.)
            if not accepted(await call.initial_metadata()):
                return await finished_call_error(call)
            self._connected.set()
            writer = asyncio.create_task(self._write(call))
            while True:
                message = await call.read()
                if message is grpc.aio.EOF:
                    return None
                self._receive(convert.from_pb(Directive, message))
        except grpc.aio.AioRpcError as error:
            return error
        except asyncio.InvalidStateError:
            # write() on a call the server already finished: its status says why.
            return await finished_call_error(call)
        finally:
            self._connected.clear()
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await writer
            call.cancel()

    async def _write(self, call: Any) -> None:
        try:
            while True:
                while not self._outbox:
                    if self._closing:
                        await call.done_writing()  # the controller ends the stream on this
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                message = self._outbox[0]
                await call.write(message)
                if self._outbox and self._outbox[0] is message:
                    self._outbox.popleft()
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return  # the reader sees the status; an unsent message stays queued
