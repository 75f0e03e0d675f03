"""The scale bench's nodes show the GPU settings they are told to apply, and the ingest
bench's steady state is one where the runtime pass has nothing left to change (pure: no
controller, no etcd)."""

import random
import time
from typing import Any, cast

from bench.scale.ingest import _settle, runtime_pass
from bench.scale.swarm import DEFAULT_LIMIT_W, apply_setting, node_info, report
from controlplane.etcd.keys import Keys
from controlplane.leader.runtime_loop import GpuInventory, build_runtime_snapshot
from controlplane.optimizer.runtime import RuntimeConfig, RuntimeMemory, plan_runtime
from controlplane.view.cluster import ClusterState
from controlplane.view.telemetry import TelemetryStore
from sdk.pb.aiwo.v1 import types_pb2


def test_a_swarm_node_reports_the_limits_and_locks_it_was_told_to_set() -> None:
    telemetry = report(4, random.Random(0)).telemetry
    apply_setting(telemetry, types_pb2.Command(set_power_limit=types_pb2.SetPowerLimit(
        gpu_index=2, watts=200.0)))  # fmt: skip
    apply_setting(telemetry, types_pb2.Command(lock_clocks=types_pb2.LockClocks(
        gpu_index=3, min_mhz=900, max_mhz=900)))  # fmt: skip
    apply_setting(telemetry, types_pb2.Command(lock_clocks=types_pb2.LockClocks(
        gpu_index=1, min_mhz=1200, max_mhz=1200)))  # fmt: skip
    assert [s.power_limit_w for s in telemetry.gpus] == [DEFAULT_LIMIT_W] * 2 + [200.0] + [
        DEFAULT_LIMIT_W
    ]
    assert [(c.gpu_index, c.max_mhz) for c in telemetry.clock_locks] == [(1, 1200), (3, 900)]
    apply_setting(telemetry, types_pb2.Command(reset_power_limit=types_pb2.ResetPowerLimit(
        gpu_index=2)))  # fmt: skip
    apply_setting(telemetry, types_pb2.Command(reset_clocks=types_pb2.ResetClocks(gpu_index=3)))
    apply_setting(telemetry, types_pb2.Command(set_power_limit=types_pb2.SetPowerLimit(
        gpu_index=9, watts=1.0)))  # fmt: skip  # no such GPU: ignored, as an agent refuses it
    assert all(s.power_limit_w == DEFAULT_LIMIT_W for s in telemetry.gpus)
    assert [c.gpu_index for c in telemetry.clock_locks] == [1]


def test_the_settled_fleet_gives_the_runtime_pass_nothing_to_do() -> None:
    state = ClusterState(cast(Any, None), Keys(), TelemetryStore(300.0, 1.0))
    rng = random.Random(3)
    reports = {}
    for i in range(30):
        name = f"n-{i}"
        ready = types_pb2.NODE_STATE_READY
        record = types_pb2.Node(name=name, state=ready, gpu_count=4, info=node_info(name, 4))
        state.nodes.apply_local(name, record)
        reports[name] = report(4, rng).telemetry
        state.telemetry.ensure(name, 4).add(reports[name])
    inventory = GpuInventory(state)
    now = time.time()
    before, _ = plan_runtime(
        build_runtime_snapshot(state, (), now, inventory), RuntimeMemory(), now, RuntimeConfig()
    )
    assert len(before.actions) == 120  # every idle GPU to its minimum limit
    memory = _settle(state, reports, inventory, RuntimeMemory())
    assert all(s.power_limit_w == 200.0 for r in reports.values() for s in r.gpus)
    after, _ = plan_runtime(
        build_runtime_snapshot(state, (), now, inventory), memory, now, RuntimeConfig()
    )
    assert after.actions == () and after.deferred == 0


def test_runtime_pass_reports_both_phases() -> None:
    figures = runtime_pass(nodes=20, gpus=2, passes=1)
    assert set(figures) == {
        f"runtime_{part}_{phase}" for part in ("snapshot", "plan") for phase in ("start", "steady")
    }
    assert all(value >= 0 for value in figures.values())
