from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import EtcdMember
from tests.sdk.processes import LocalControlPlane, control_plane


@pytest.fixture(scope="module")
def plane(
    etcd: EtcdMember, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalControlPlane]:
    """The real controller with one simulated 8×H100 agent, shared by a test module."""
    with control_plane(etcd, tmp_path_factory.mktemp("cli-plane")) as running:
        running.start_agent("node-1")
        yield running
