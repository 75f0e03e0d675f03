"""The event log against a real etcd: what flush() returns after is stored."""

from __future__ import annotations

import asyncio

from controlplane.app.server import Controller
from tests.helpers import assert_eventually


async def _stored_events(ctl: Controller) -> set[str]:
    _, kvs = await ctl.store.list_prefix(ctl.keys.events)
    return {kv.key for kv in kvs}


async def test_flush_waits_for_the_batch_already_in_flight(controller: Controller) -> None:
    ctl = controller
    await assert_eventually(lambda: ctl.store.epoch > 0, message="the controller never led")
    await ctl.events.flush()  # the lease is granted; nothing is pending
    first = ctl.events.emit("test_event", "node/node-a", "first")
    in_flight = asyncio.create_task(ctl.events.flush())  # the flusher's, in production
    await asyncio.sleep(0)  # it has taken `first` and waits on etcd
    second = ctl.events.emit("test_event", "node/node-a", "second")
    await ctl.events.flush()
    stored = {key.rsplit("-", 1)[1] for key in await _stored_events(ctl)}
    assert {first.id, second.id} <= stored
    await in_flight


async def test_a_flush_alone_stores_what_was_emitted(controller: Controller) -> None:
    ctl = controller
    await assert_eventually(lambda: ctl.store.epoch > 0, message="the controller never led")
    before = await _stored_events(ctl)
    emitted = [ctl.events.emit("test_event", "node/node-a", str(i)) for i in range(5)]
    await ctl.events.flush()
    added = await _stored_events(ctl) - before
    assert sorted(k.rsplit("-", 1)[1] for k in added) == sorted(e.id for e in emitted)
