"""SyncClient and SyncAttachSession against the scripted service.

The sync API blocks its caller, so each test drives it from a worker thread while the
fake server runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from sdk import Directive, DirectiveKind, NotFound, SyncClient
from sdk.pb.aiwo.v1 import types_pb2
from tests.helpers import assert_eventually
from tests.sdk.fakes import FakeController


def directive(id: str, kind: Any = types_pb2.DIRECTIVE_KIND_CHECKPOINT) -> types_pb2.Directive:
    return types_pb2.Directive(id=id, kind=kind, workload="default/job")


async def test_sync_callback_runs_in_a_thread_and_acks(fake: FakeController) -> None:
    threads: list[str] = []

    def handler(d: Directive) -> None:
        threads.append(threading.current_thread().name)
        if d.id == "bad":
            raise OSError("no space left on device")

    def app() -> None:
        with SyncClient.connect(fake.target) as client:
            handle = client.register("job", priority="batch")
            with handle.attach(on_directive=handler) as session:
                session.wait_connected(timeout=5)
                asyncio.run_coroutine_threadsafe(push(), loop).result(5)
                deadline = 50
                while len(fake.service.log.acks) < 2 and deadline:
                    session.report(throughput_per_s=5)
                    threading.Event().wait(0.1)
                    deadline -= 1

    async def push() -> None:
        await fake.service.directives.put(directive("good"))
        await fake.service.directives.put(directive("bad"))

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(app)
    acks = {a.directive_id: a for a in fake.service.log.acks}
    assert acks["good"].ok and not acks["bad"].ok
    assert "no space left on device" in acks["bad"].reason
    assert all(name != "aiwo-sdk" for name in threads)  # never on the SDK's loop thread


async def test_sync_iterator_and_failed_ack_on_exception(fake: FakeController) -> None:
    await fake.service.directives.put(directive("c1"))

    def app() -> None:
        with SyncClient.connect(fake.target) as client:
            handle = client.register("job")
            with pytest.raises(RuntimeError, match="checkpoint failed"):
                with handle.attach() as session:
                    for d in session.directives():
                        assert d.kind == DirectiveKind.CHECKPOINT
                        raise RuntimeError("checkpoint failed")
            with pytest.raises(NotFound):
                client.get("nothing-here")

    await asyncio.to_thread(app)
    await assert_eventually(lambda: fake.service.log.acks)
    ack = fake.service.log.acks[0]
    assert (ack.directive_id, ack.ok) == ("c1", False) and "checkpoint failed" in ack.reason
