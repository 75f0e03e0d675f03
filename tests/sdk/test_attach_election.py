"""While no controller leads, the attach stream is retried within a second."""

from __future__ import annotations

import grpc
import grpc.aio

from controlplane.rpc import common as controller
from sdk._metadata import ELECTING_METADATA_KEY, electing


def _refusal(*trailers: tuple[str, str]) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*trailers),
        "no controller leads right now",
    )


def test_the_sdk_reads_the_key_the_controller_sets() -> None:
    assert ELECTING_METADATA_KEY == controller.ELECTING_METADATA_KEY
    assert electing(_refusal((ELECTING_METADATA_KEY, "1")).trailing_metadata())
    assert not electing(_refusal(("aiwo-leader", "10.0.0.2:7070")).trailing_metadata())
    assert not electing(_refusal().trailing_metadata())
