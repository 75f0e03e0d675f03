"""What every servicer shares: turning validation and leadership into gRPC statuses."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc

from controlplane.etcd.store import EtcdStore, FencingError, StoreUnavailable
from controlplane.leader.decisions import Batch, Conflict, Decisions
from controlplane.rpc.validation import ValidationError
from sdk._metadata import ELECTING_METADATA_KEY, LEADER_METADATA_KEY


async def found(context: grpc.aio.ServicerContext, value: T | None, what: str) -> T:
    """`value`, or NOT_FOUND naming `what` (e.g. "workload default/web")."""
    if value is None:
        await context.abort(grpc.StatusCode.NOT_FOUND, f"{what} not found")
        raise AssertionError("unreachable")
    return value


async def abort_invalid(context: grpc.aio.ServicerContext, error: ValidationError) -> NoReturn:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
    raise AssertionError("unreachable")


async def validate(context: grpc.aio.ServicerContext, check: Callable[[], object]) -> None:
    try:
        check()
    except ValidationError as exc:
        await abort_invalid(context, exc)


T = TypeVar("T")


class Leadership:
    """Writes are the leader's alone; others answer UNAVAILABLE naming where the leader is.

    The leader's address also travels as trailing metadata (`aiwo-leader`), so that agents
    can go straight there.
    """

    def __init__(self, store: EtcdStore) -> None:
        self.store = store
        self.leader_address = ""

    @property
    def is_leader(self) -> bool:
        return self.store.epoch > 0

    async def require(self, context: grpc.aio.ServicerContext) -> None:
        if self.store.epoch <= 0:
            if self.leader_address:
                context.set_trailing_metadata(((LEADER_METADATA_KEY, self.leader_address),))
                why = f"this controller is not the leader; the leader is at {self.leader_address}"
            else:
                context.set_trailing_metadata(((ELECTING_METADATA_KEY, "1"),))
                why = (
                    "no controller leads right now (an election is under way, or etcd has lost "
                    "quorum); nothing was changed, try again"
                )
            await context.abort(grpc.StatusCode.UNAVAILABLE, why)


async def abort_store_error(context: grpc.aio.ServicerContext, exc: Exception) -> NoReturn:
    if isinstance(exc, Conflict):
        await context.abort(grpc.StatusCode.ABORTED, f"concurrent change, try again: {exc}")
    if isinstance(exc, FencingError):
        await context.abort(grpc.StatusCode.UNAVAILABLE, f"leadership lost: {exc}")
    if isinstance(exc, StoreUnavailable):
        await context.abort(grpc.StatusCode.UNAVAILABLE, f"etcd unavailable: {exc}")
    await context.abort(grpc.StatusCode.UNAVAILABLE, f"state store error: {exc}")
    raise AssertionError("unreachable")


async def commit_attempt(
    context: grpc.aio.ServicerContext, decisions: Decisions, batch: Batch, *, last: bool
) -> bool:
    """Commit one attempt of a read-modify-write: True once written, False on a Conflict the
    caller decides again from the new record. A Conflict on the `last` attempt, or any other
    store error, ends the call with its status."""
    try:
        await decisions.commit(batch)
        return True
    except Conflict as exc:
        if last:
            await abort_store_error(context, exc)
        return False
    except Exception as exc:
        await abort_store_error(context, exc)


async def read_hello(context: grpc.aio.ServicerContext) -> Any:
    """The hello a stream must open with (its first message's `hello`), or INVALID_ARGUMENT.
    The caller names its type: an agent's AgentHello, an app's AttachHello."""
    first = await context.read()
    if first is grpc.aio.EOF or not first.HasField("hello"):
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, "hello: the first message must be a hello"
        )
    return first.hello


async def retry_conflicts(decide: Callable[[], Awaitable[None]], attempts: int = 3) -> None:
    """Decide again from the current state when another decision changed it first."""
    for attempt in range(attempts):
        try:
            await decide()
            return
        except Conflict:
            if attempt == attempts - 1:
                raise


M = TypeVar("M")


async def pump(
    context: grpc.aio.ServicerContext,
    queue: asyncio.Queue[M],
    reader: asyncio.Task[None],
    leadership: Leadership,
    idle_s: float,
    idle: Callable[[], M] | None = None,
    drop_when_ending: bool = False,
) -> None:
    """Write what is queued for a stream's peer until the peer's reader ends or this
    controller stops leading; then a deposed leader aborts (the peer goes to the new one) and
    a reader refused for bad input ends the call with INVALID_ARGUMENT.

    `idle`: written when nothing was queued for `idle_s` (a heartbeat); without it the pump
    only wakes to check leadership. `drop_when_ending`: a message taken from the queue as
    the stream ends is not written (the agent's commands are resent when it reconnects).
    The reader is cancelled and awaited on the way out."""
    get: asyncio.Future[M] | None = None
    try:
        # Wake for the reader too: a stream the peer closed, or one refused for bad input,
        # ends now rather than at the next idle tick.
        while not reader.done() and leadership.is_leader:
            get = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {get, reader}, timeout=idle_s, return_when=asyncio.FIRST_COMPLETED
            )
            if get in done:
                message = get.result()
            else:
                get.cancel()
                if idle is None:
                    continue
                message = idle()
            if drop_when_ending and (reader.done() or not leadership.is_leader):
                break
            await context.write(message)
        if not reader.done():
            await leadership.require(context)
        error = reader.exception()
        if isinstance(error, ValidationError):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
    finally:
        if get is not None:
            get.cancel()  # cancelled while waiting (shutdown): no task left pending
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader
