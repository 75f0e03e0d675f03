from __future__ import annotations

import os

# As in the agent: tests fork real processes while gRPC threads run (see nodeagent/main.py).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import uuid
from collections.abc import Iterator

import pytest

from tests.helpers import EtcdMember, start_etcd


@pytest.fixture(scope="session")
def etcd() -> Iterator[EtcdMember]:
    """One real etcd member for the whole session; tests isolate themselves by key prefix."""
    member = start_etcd()
    yield member
    member.stop()


@pytest.fixture
def etcd_prefix() -> str:
    """A fresh key prefix per test, so tests sharing the etcd member never see each other."""
    return f"/aiwo-test/{uuid.uuid4().hex[:12]}/v1"
