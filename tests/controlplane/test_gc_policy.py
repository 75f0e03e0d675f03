"""The controller's garbage-collection policy: settle, and still reclaim old cycles."""

from __future__ import annotations

import gc
import weakref

from controlplane.app.gc_policy import settle


class _Node:
    def __init__(self) -> None:
        self.peer: _Node | None = None


def test_settle_freezes_survivors_and_a_later_settle_reclaims_their_cycles() -> None:
    try:
        a, b = _Node(), _Node()
        a.peer, b.peer = b, a  # a cycle: only the collector can free it
        gone = weakref.ref(a)
        settle()
        assert gc.get_freeze_count() > 0  # the survivors are out of the collector's view
        del a, b
        gc.collect()  # a normal full collection does not see frozen objects
        assert gone() is not None
        settle()  # unfreezes first: the old cycle is reclaimed
        assert gone() is None
    finally:
        gc.unfreeze()  # leave the test process's collector as it was
