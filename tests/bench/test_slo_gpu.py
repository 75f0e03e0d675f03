"""The benchmark's per-tick GPU equals the agent's simulated GPU wherever both apply."""

from __future__ import annotations

import pytest

from bench.slo.gpu import batch_demand_w, gpu_tick, latency_demand_w
from gpumodel.models import get_model
from nodeagent.gpu.base import WorkloadLoad
from nodeagent.gpu.sim import SimulatedGpuBackend


@pytest.mark.parametrize("cap", [400.0, 300.0, 200.0, 120.0])
@pytest.mark.parametrize("lock", [None, 1000])
@pytest.mark.parametrize(
    "loads",
    [
        [("batch", 1000)],
        [("batch", 500), ("batch", 300)],
        [("latency", 500), ("batch", 500)],
        [("latency", 300)],
    ],
)
def test_matches_simulated_backend_view(
    cap: float, lock: int | None, loads: list[tuple[str, int]]
) -> None:
    model = get_model("A100-80GB")
    sim = SimulatedGpuBackend(model, 1, noise=False)
    duties, demands = [], []
    for i, (kind, milli) in enumerate(loads):
        target = 100.0 if kind == "latency" else 0.0
        sim.assign(WorkloadLoad(f"ns/w{i}", (0,), milli, p99_latency_target_ms=target))
        if kind == "latency":
            sim.set_duty_cycle(f"ns/w{i}", 0.2)  # below its share: the simulator's domain
            duties.append(0.2)
            demands.append(latency_demand_w(model))
        else:
            duties.append(milli / 1000.0)
            demands.append(batch_demand_w(model))
    sim.set_power_limit(0, cap)
    if lock is not None:
        sim.lock_clocks(0, lock, lock)
    view = sim.view(0)
    tick = gpu_tick(model, cap, lock, duties, demands)
    assert tick.demand_w == pytest.approx(view.demand_power_w)
    assert tick.throughput == pytest.approx(view.throughput_factor)
    assert tick.power_w == pytest.approx(view.power_w)
    if all(kind == "batch" for kind, _ in loads):  # latency duties grow when slowed in sim
        assert list(tick.shares) == pytest.approx(list(view.duty_cycles.values()))
