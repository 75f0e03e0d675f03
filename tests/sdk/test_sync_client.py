"""SyncClient and SyncAttachSession against the real controller, in process.

The sync API blocks its caller, so each test runs the application in a worker thread
while the controller serves on the test's event loop.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from sdk import Directive, DirectiveKind, MigrationPhase, NotFound, Resources, SyncClient
from tests.helpers import assert_eventually
from tests.sdk.conftest import Cluster


async def test_sync_callback_runs_in_a_thread_and_acks(cluster: Cluster) -> None:
    await cluster.two_nodes()
    handled: list[tuple[Directive, str]] = []
    placed: list[str] = []
    finish = threading.Event()

    def handler(d: Directive) -> None:
        handled.append((d, threading.current_thread().name))
        if d.kind == DirectiveKind.MIGRATE and d.node == placed[0]:
            raise OSError("no space left on device")

    def app() -> None:
        with SyncClient.connect(cluster.address) as client:
            handle = client.register("job", priority="batch", resources=Resources(gpus=1))
            placed.append(handle.wait_placed(timeout=10).node)
            with handle.attach(on_directive=handler) as session:
                session.wait_connected(timeout=5)
                assert finish.wait(30)

    application = asyncio.ensure_future(asyncio.to_thread(app))
    try:
        await assert_eventually(lambda: handled or application.done(), message="no PLACEMENT")
        source = placed[0]
        await cluster.admin.migrate("job", to=cluster.other_node(source))
        moved = await cluster.migration_done("job")
        assert moved.phase == MigrationPhase.RUNNING, moved.error  # acked ok
        await cluster.admin.migrate("job", to=source)
        refused = await cluster.migration_done("job")
        assert refused.phase == MigrationPhase.FAILED  # acked failed
        assert "OSError: no space left on device" in refused.error
    finally:
        finish.set()
        await application
    assert [d.kind for d, _ in handled[:3]] == [
        DirectiveKind.PLACEMENT,
        DirectiveKind.MIGRATE,
        DirectiveKind.MIGRATE,
    ]
    [event] = await assert_eventually(lambda: cluster.failed_acks("default/job"))
    assert f"directive {handled[2][0].id} failed: OSError" in event.message
    threads = {name for _, name in handled}
    assert threads and "aiwo-sdk" not in threads  # never on the SDK's loop thread
    assert threading.current_thread().name not in threads  # nor on the caller's


async def test_sync_iterator_and_failed_ack_on_exception(cluster: Cluster) -> None:
    await cluster.add_node("node-1")
    seen: list[Directive] = []

    def app() -> None:
        with SyncClient.connect(cluster.address) as client:
            handle = client.register("job", resources=Resources(gpus=1))
            placement = handle.wait_placed(timeout=10)
            # The mirrored attributes read the async objects' state as it is.
            assert handle.key == "default/job"
            assert handle.last_seen is not None and handle.last_seen.placement == placement
            with pytest.raises(RuntimeError, match="checkpoint failed"):
                with handle.attach() as session:
                    for d in session.directives():
                        seen.append(d)
                        assert d.kind == DirectiveKind.PLACEMENT
                        assert session.connected and session.throttle is None
                        assert session.placement is not None
                        assert session.placement.node == placement.node
                        raise RuntimeError("checkpoint failed")
            with pytest.raises(NotFound):
                client.get("nothing-here")

    await asyncio.to_thread(app)
    [event] = await assert_eventually(lambda: cluster.failed_acks("default/job"))
    assert f"directive {seen[0].id} failed: RuntimeError: checkpoint failed" in event.message


# Hand-written on purpose: `start` and `close` are the `with` block; `wait` takes a timeout
# (the caller's thread cannot cancel a coroutine it does not run).
_NOT_MIRRORED = {"connect", "close", "start", "wait"}


def test_the_sync_clients_mirror_every_async_method() -> None:
    # Derived, not hand-written: each public coroutine method has a blocking twin with the
    # same parameters and docstring; one that returns a handle returns its sync twin.
    import inspect

    from sdk import (
        AdminClient,
        AttachSession,
        AuthClient,
        Client,
        SyncAdminClient,
        SyncAttachSession,
        SyncAuthClient,
        SyncClient,
        SyncWorkloadHandle,
        WorkloadHandle,
    )

    twins = {
        AdminClient: SyncAdminClient,
        AuthClient: SyncAuthClient,
        Client: SyncClient,
        WorkloadHandle: SyncWorkloadHandle,
        AttachSession: SyncAttachSession,
    }
    for async_cls, sync_cls in twins.items():
        for name, method in inspect.getmembers(async_cls, inspect.iscoroutinefunction):
            if name.startswith("_") or name in _NOT_MIRRORED:
                continue
            twin = getattr(sync_cls, name)
            assert not inspect.iscoroutinefunction(twin), name
            expected = inspect.signature(method)
            if expected.return_annotation == "WorkloadHandle":
                expected = expected.replace(return_annotation="SyncWorkloadHandle")
            assert inspect.signature(twin) == expected, name
            assert twin.__doc__ == method.__doc__, name
