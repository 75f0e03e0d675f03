from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk.cli.local_cluster import ClusterSpec, LocalCluster
from tests.e2e.cluster_helpers import running_cluster

NODE_GRACE_S = 3
EVICTION_GRACE_S = 8
LEADER_LEASE_S = 3  # the product default: failover is measured with it


@pytest.fixture
def ha_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """3 etcd members, 2 controllers, 2 agents: real processes, as `aiwo up` runs them."""
    spec = ClusterSpec(
        tmp_path / "state",
        nodes=2,
        gpus_per_node=4,
        gpu_model="A100-80GB",
        controllers=2,
        etcd_members=3,
        controller_args=(
            "--node-grace-s", str(NODE_GRACE_S),
            "--eviction-grace-s", str(EVICTION_GRACE_S),
            "--leader-lease-s", str(LEADER_LEASE_S),
        ),
        agent_args=("--fence-after-s", str(NODE_GRACE_S + EVICTION_GRACE_S + 2)),
        default_ports=False,
    )  # fmt: skip
    with running_cluster(spec) as cluster:
        yield cluster
