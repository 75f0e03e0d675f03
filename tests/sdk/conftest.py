from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.helpers import EtcdMember
from tests.sdk.fakes import FakeController
from tests.sdk.processes import LocalControlPlane, control_plane


@pytest.fixture
async def fake() -> AsyncIterator[FakeController]:
    controller = FakeController()
    await controller.start()
    yield controller
    await controller.stop()


@pytest.fixture(scope="module")
def plane(
    etcd: EtcdMember, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalControlPlane]:
    """The real controller (subprocess) with one simulated 8×H100 agent, per test module.

    Tests share it and keep apart by workload name; each module gets a fresh etcd prefix.
    """
    with control_plane(etcd, tmp_path_factory.mktemp("plane")) as running:
        running.start_agent("node-1")
        yield running
