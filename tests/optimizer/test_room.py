"""room_for: copies of one replica shape that fit now, and with lower-priority work gone;
replica_room: the autoscaler's room and room_by_preemption from them."""

from __future__ import annotations

from controlplane.optimizer import OptimizerConfig
from controlplane.optimizer.room import replica_room, room_for
from controlplane.optimizer.types import Request
from tests.optimizer.builders import WorkloadBuilder, node, snapshot, workload


def batch(key: str, node_name: str, gpus: tuple[int, ...], priority: int) -> WorkloadBuilder:
    return workload(key).wants(gpus=len(gpus)).priority(priority).on(node_name, gpus)


def test_room_counts_free_gpus_and_what_lower_priority_work_holds() -> None:
    state = snapshot(
        [node(n).gpus(4, model="H100", memory_mib=81_559) for n in ("a", "b")],
        [batch("default/train", "a", (0, 1, 2), 100), batch("default/prod", "b", (0,), 900)],
    )
    one_gpu = Request(gpus=1)
    config = OptimizerConfig()
    assert room_for(state, one_gpu, "chat", 10, config) == 4  # 1 on a, 3 on b
    assert room_for(state, one_gpu, "chat", 2, config) == 2  # never past the limit
    # The batch job's three GPUs count once it could be preempted; the prod job's never.
    assert room_for(state, one_gpu, "chat", 10, config, free_below_priority=500) == 7
    assert room_for(state, Request(gpus=8), "chat", 10, config) == 0
    assert room_for(state, one_gpu, "chat", 0, config) == 0


def test_replica_room_counts_pending_replicas_first_and_stays_within_headroom() -> None:
    state = snapshot(
        [node(n).gpus(4, model="H100", memory_mib=81_559) for n in ("a", "b")],
        [batch("default/train", "a", (0, 1, 2), 100), batch("default/prod", "b", (0,), 900)],
    )
    one_gpu, config = Request(gpus=1), OptimizerConfig()
    # 4 GPUs free, 3 more held by the batch job: room 4, then 3 by preemption.
    assert replica_room(state, one_gpu, "chat", 10, 0, config, 500) == (4, 3)
    # Two pending replicas take two of the free GPUs first.
    assert replica_room(state, one_gpu, "chat", 10, 2, config, 500) == (2, 3)
    # Within the headroom: no preemption is counted once room covers it.
    assert replica_room(state, one_gpu, "chat", 3, 0, config, 500) == (3, 0)
    assert replica_room(state, one_gpu, "chat", 0, 0, config, 500) == (0, 0)
    # Work at or above the service's priority is never counted as preemptible.
    assert replica_room(state, one_gpu, "chat", 10, 0, config, 100) == (4, 0)
    no_preemption = OptimizerConfig(preemption=False)
    assert replica_room(state, one_gpu, "chat", 10, 0, no_preemption, 500) == (4, 0)
