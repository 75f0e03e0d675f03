"""What every servicer shares: turning validation and leadership into gRPC statuses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import grpc

from controlplane.etcd.store import EtcdStore, FencingError, StoreUnavailable
from controlplane.leader.decisions import Conflict
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


async def retry_conflicts(decide: Callable[[], Awaitable[None]], attempts: int = 3) -> None:
    """Decide again from the current state when another decision changed it first."""
    for attempt in range(attempts):
        try:
            await decide()
            return
        except Conflict:
            if attempt == attempts - 1:
                raise
