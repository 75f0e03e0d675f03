"""While no controller leads, the attach stream is retried within a second."""

from __future__ import annotations

import grpc
import grpc.aio

from controlplane.services.common import ELECTING_METADATA_KEY as CONTROLLER_KEY
from sdk._attach import ELECTING_METADATA_KEY, electing


def _refusal(*trailers: tuple[str, str]) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*trailers),
        "no controller leads right now",
    )


def test_the_sdk_reads_the_key_the_controller_sets() -> None:
    assert ELECTING_METADATA_KEY == CONTROLLER_KEY
    assert electing(_refusal((CONTROLLER_KEY, "1")))
    assert not electing(_refusal(("aiwo-leader", "10.0.0.2:7070")))
    assert not electing(_refusal())
