"""Typed errors, and the one mapping from gRPC status codes to them.

Every message is one line a person can act on; the CLI prints `str(error)` as is.
"""

from __future__ import annotations

import re
from typing import Any

import grpc


class AiwoError(Exception):
    """Base of every error the SDK raises."""

    def __init__(self, message: str, *, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ControllerUnavailable(AiwoError):
    """The controller could not be reached (not running, wrong address, network), or it
    answered that it cannot serve right now (not the leader, etcd down): `reachable`."""

    def __init__(
        self,
        target: str,
        detail: str = "",
        *,
        reachable: bool = False,
        code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
    ) -> None:
        self.target = target
        self.detail = detail
        self.reachable = reachable
        if reachable:
            message = f"the aiwo controller at {target} is unavailable: {detail}"
        else:
            reason = f" ({detail})" if detail else ""
            message = f"cannot reach the aiwo controller at {target}{reason}"
        super().__init__(message, code=code)


class InvalidArgument(AiwoError):
    """The request was rejected before anything changed; `field` names the culprit."""

    def __init__(
        self, message: str, *, field: str = "", code: grpc.StatusCode | None = None
    ) -> None:
        super().__init__(message, code=code or grpc.StatusCode.INVALID_ARGUMENT)
        self.field = field


class NotFound(AiwoError):
    pass


class AlreadyExists(AiwoError):
    """A workload of that name exists with a different spec (use `update`)."""


class Unschedulable(AiwoError):
    """The workload can never fit this cluster (or another precondition failed)."""


class Conflict(AiwoError):
    """A concurrent change won (e.g. `expected_generation` no longer matches)."""


class PermissionDenied(AiwoError):
    pass


class Unauthenticated(AiwoError):
    pass


class PlacementTimeout(AiwoError, TimeoutError):
    """`wait_placed` gave up; the message says the phase and why."""


_BY_CODE: dict[grpc.StatusCode, type[AiwoError]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: Unschedulable,
    grpc.StatusCode.ABORTED: Conflict,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
}

# The controller words INVALID_ARGUMENT as "<field path>: <problem>",
# e.g. "spec.resources.milli_gpu: must be between 0 and 1000, got 2000".
_PART = r"[a-z_][a-z0-9_]*(?:\[[^\]]*\])?"  # "spec", "variants[0]", "env['X']"
_FIELD_RE = re.compile(rf"^({_PART}(?:\.{_PART})*):\s")


def field_of(details: str) -> str:
    match = _FIELD_RE.match(details)
    return match.group(1) if match else ""


# grpc's own wording for transport failures -> a short reason. UNAVAILABLE with any other
# text came from the controller itself ("this controller is not the leader", "etcd ...").
_TRANSPORT_FAILURES = (
    ("connection refused", "connection refused"),
    ("deadline exceeded", "timed out"),
    ("timed out", "timed out"),
    ("name resolution", "unknown host"),
    ("dns resolution failed", "unknown host"),
    ("no route to host", "no route to host"),
    ("network is unreachable", "network unreachable"),
    ("connection reset", "connection reset"),
    ("broken pipe", "connection reset"),
    ("socket closed", "connection closed"),
    ("goaway", "connection closed"),
    # TLS failures before the generic "failed to connect" that grpc puts in front of them.
    ("wrong_version_number", "TLS handshake failed: the controller does not serve TLS"),
    ("certificate_verify_failed", "TLS handshake failed: its certificate is not from your CA"),
    ("handshake", "TLS handshake failed"),
    ("failed to connect", "connection failed"),
)


def _unavailable(details: str, target: str) -> ControllerUnavailable:
    lowered = details.lower()
    for needle, short in _TRANSPORT_FAILURES:
        if needle in lowered:
            return ControllerUnavailable(target, short)
    if not details:
        return ControllerUnavailable(target, "unavailable")
    return ControllerUnavailable(target, details.splitlines()[0][:200], reachable=True)


def from_status(code: grpc.StatusCode, details: str, target: str) -> AiwoError:
    """Map a gRPC status to the SDK's error type."""
    details = (details or "").strip()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        # Connected, but the answer did not come in time: say that, not "cannot reach".
        return ControllerUnavailable(
            target, "no answer within the deadline", reachable=True, code=code
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return _unavailable(details, target)
    if code == grpc.StatusCode.FAILED_PRECONDITION and details.startswith("expected_generation"):
        # The controller reports a lost optimistic-concurrency race this way.
        return Conflict(details, code=code)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(details or "invalid argument", field=field_of(details))
    if code == grpc.StatusCode.OUT_OF_RANGE:
        return InvalidArgument(details or "out of range", field=field_of(details), code=code)
    cls = _BY_CODE.get(code, AiwoError)
    name = code.name.lower().replace("_", " ")
    return cls(details or name, code=code)


def from_rpc_error(error: grpc.RpcError, target: str) -> AiwoError:
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    return from_status(code, details or "", target)


async def finished_call_error(call: Any) -> grpc.aio.AioRpcError | None:
    """A stream call the server already finished (a write raised InvalidStateError): the
    status it ended with, as the error a read would have raised; None when it ended OK."""
    code = await call.code()
    if code == grpc.StatusCode.OK:
        return None
    return grpc.aio.AioRpcError(
        code,
        await call.initial_metadata() or grpc.aio.Metadata(),
        await call.trailing_metadata() or grpc.aio.Metadata(),  # e.g. where the leader is
        await call.details(),
    )
