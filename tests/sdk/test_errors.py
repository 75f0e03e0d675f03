"""gRPC status -> typed SDK error, in one table."""

from __future__ import annotations

import time

import grpc
import pytest

from sdk import (
    AdminClient,
    AiwoError,
    AlreadyExists,
    Client,
    Conflict,
    ControllerUnavailable,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unschedulable,
)
from sdk._errors import field_of, from_status
from tests.helpers import free_port

TARGET = "127.0.0.1:7070"


@pytest.mark.parametrize(
    ("code", "details", "expected"),
    [
        (grpc.StatusCode.NOT_FOUND, "workload default/x not found", NotFound),
        (grpc.StatusCode.ALREADY_EXISTS, "exists with a different spec", AlreadyExists),
        (grpc.StatusCode.FAILED_PRECONDITION, "unschedulable: needs 9 GPUs", Unschedulable),
        (grpc.StatusCode.FAILED_PRECONDITION, "expected_generation: at 3, not 2", Conflict),
        (grpc.StatusCode.ABORTED, "conflict", Conflict),
        (grpc.StatusCode.PERMISSION_DENIED, "role viewer may not register", PermissionDenied),
        (grpc.StatusCode.UNAUTHENTICATED, "missing token", Unauthenticated),
        (grpc.StatusCode.INVALID_ARGUMENT, "name: is required", InvalidArgument),
        (
            grpc.StatusCode.UNAVAILABLE,
            "failed to connect; Connection refused",
            ControllerUnavailable,
        ),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", ControllerUnavailable),
        (grpc.StatusCode.INTERNAL, "boom", AiwoError),
    ],
)
def test_mapping(code: grpc.StatusCode, details: str, expected: type[AiwoError]) -> None:
    error = from_status(code, details, TARGET)
    assert type(error) is expected
    assert error.code == code
    assert "\n" not in str(error)


def test_unreachable_message_is_one_clear_line() -> None:
    error = from_status(
        grpc.StatusCode.UNAVAILABLE,
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: "
        "Failed to connect to remote host: Connection refused",
        "127.0.0.1:1",
    )
    assert str(error) == "cannot reach the aiwo controller at 127.0.0.1:1 (connection refused)"


def test_unavailable_from_the_controller_itself_keeps_its_reason() -> None:
    error = from_status(grpc.StatusCode.UNAVAILABLE, "this controller is not the leader", TARGET)
    assert isinstance(error, ControllerUnavailable) and error.reachable
    assert (
        str(error)
        == f"the aiwo controller at {TARGET} is unavailable: this controller is not the leader"
    )


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ("name: must be lowercase letters, digits and '-'", "name"),
        (
            "spec.resources.milli_gpu: must be between 0 and 1000, got 2000",
            "spec.resources.milli_gpu",
        ),
        ("spec.variants[1].name: duplicate variant 'int8'", "spec.variants[1].name"),
        ("spec.launch.env['PATH']: key or value empty or too long", "spec.launch.env['PATH']"),
        ("something went wrong", ""),
    ],
)
def test_field_is_parsed_from_the_controllers_wording(details: str, field: str) -> None:
    assert field_of(details) == field
    error = from_status(grpc.StatusCode.INVALID_ARGUMENT, details, TARGET)
    assert isinstance(error, InvalidArgument) and error.field == field


@pytest.mark.parametrize("factory", [Client.connect, AdminClient.connect])
async def test_connect_to_a_dead_address_fails_fast_and_clearly(factory) -> None:
    target = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ControllerUnavailable) as info:
        await factory(target)
    assert time.monotonic() - started < 3
    assert str(info.value) == f"cannot reach the aiwo controller at {target} (connection refused)"
