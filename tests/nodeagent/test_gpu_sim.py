from __future__ import annotations

import threading
import time

import pytest

from nodeagent.gpu.base import ActuationError, BackendStatus, GpuBackend, ThrottleReason
from nodeagent.gpu.base import WorkloadLoad as Load
from nodeagent.gpu.sim import LATENCY_SERVICE_DUTY, SimulatedGpuBackend

TRAIN = Load("ml/train", gpus=(0,), milli_gpu=1000)
SERVE = Load("web/chat", gpus=(0,), milli_gpu=500, priority=100, p99_latency_target_ms=200.0)


def quiet(model: str = "H100", count: int = 8) -> SimulatedGpuBackend:
    return SimulatedGpuBackend(model, count, node_name="node-a", noise=False)


def test_implements_the_backend_protocol() -> None:
    backend: GpuBackend = quiet()
    assert backend.state().status is BackendStatus.OK
    assert backend.state().kind == "sim"


def test_inventory_uses_model_parameters_and_stable_uuids() -> None:
    inv = quiet().inventory()
    assert len(inv) == 8
    assert inv[0].model == "H100" and inv[0].memory_total_mib == 81559
    assert (inv[0].power_limit_min_w, inv[0].power_limit_max_w) == (200, 700)
    assert inv[0].uuid.startswith("GPU-")
    assert [g.uuid for g in inv] == [g.uuid for g in quiet().inventory()]
    assert len({g.uuid for g in inv}) == 8
    other = SimulatedGpuBackend("H100", 8, node_name="node-b").inventory()
    assert inv[0].uuid != other[0].uuid


def test_nvlink_all_to_all_on_sxm_and_none_on_pcie() -> None:
    sxm = quiet("H100").inventory()
    assert sxm[3].nvlink_peers == (0, 1, 2, 4, 5, 6, 7)
    assert all(g.nvlink_peers == () for g in quiet("L4", 4).inventory())


def test_idle_gpu_draws_idle_power() -> None:
    s = quiet().sample(0.0)[0]
    assert s.utilization_pct == 0.0
    assert s.power_w == pytest.approx(75.0)
    assert s.power_limit_w == 700.0
    assert s.memory_used_mib == 0
    assert s.throttle_reasons & ThrottleReason.GPU_IDLE


def test_batch_job_fills_its_share_at_training_power() -> None:
    sim = quiet()
    sim.assign(TRAIN)
    s = sim.sample(0.0)
    assert s[0].utilization_pct == 100.0
    assert s[0].power_w == pytest.approx(700.0)
    assert s[0].memory_used_mib == 81559  # whole GPU, no memory given
    assert s[1].utilization_pct == 0.0  # other GPUs untouched


def test_latency_service_is_busy_half_its_share_by_default() -> None:
    sim = quiet()
    sim.assign(SERVE)
    v = sim.view(0)
    assert v.utilization == pytest.approx(0.5 * LATENCY_SERVICE_DUTY)
    # decode power 0.55 x 700 W, for a quarter of the time
    assert v.power_w == pytest.approx(75 + 0.25 * (385 - 75))
    sim.set_duty_cycle("web/chat", 0.4)
    assert sim.view(0).utilization == pytest.approx(0.4)
    sim.set_duty_cycle("web/chat", 0.9)  # clipped to its 500-milli share
    assert sim.view(0).utilization == pytest.approx(0.5)


def test_memory_used_follows_declared_memory() -> None:
    sim = quiet()
    sim.assign(Load("a/x", gpus=(2,), milli_gpu=300, gpu_memory_mib=12000))
    sim.assign(Load("a/y", gpus=(2,), milli_gpu=200))
    assert sim.sample(0.0)[2].memory_used_mib == 12000 + round(0.2 * 81559)


def test_power_cap_clips_power_and_slows_work() -> None:
    sim = quiet()
    sim.assign(TRAIN)
    sim.set_power_limit(0, 350)
    s = sim.sample(0.0)[0]
    assert s.power_w == pytest.approx(350.0)
    assert s.power_limit_w == 350.0
    assert s.throttle_reasons & ThrottleReason.SW_POWER_CAP
    thr = sim.throughput_factor(0)
    assert 0.5 < thr < 0.8
    assert s.sm_clock_mhz == round(1980 * thr)
    assert sim.throughput_factor(1) == 1.0
    sim.reset_power_limit(0)
    assert sim.throughput_factor(0) == 1.0
    assert sim.sample(1.0)[0].power_limit_w == 700.0


def test_cap_above_demand_costs_nothing() -> None:
    sim = quiet()
    sim.assign(SERVE)  # ~152 W average demand
    sim.set_power_limit(0, 200)
    assert sim.throughput_factor(0) == 1.0
    assert not sim.sample(0.0)[0].throttle_reasons & ThrottleReason.SW_POWER_CAP


def test_capped_latency_service_stays_busy_longer() -> None:
    sim = quiet()
    sim.assign(Load("web/chat", gpus=(0,), milli_gpu=1000, p99_latency_target_ms=100.0))
    sim.set_duty_cycle("web/chat", 0.9)
    uncapped = sim.view(0).utilization
    sim.set_power_limit(0, 200)
    capped = sim.view(0)
    assert capped.throughput_factor < 1.0
    assert capped.utilization == pytest.approx(min(1.0, uncapped / capped.throughput_factor))


def test_power_limit_outside_range_is_refused_with_reason() -> None:
    sim = quiet()
    with pytest.raises(ActuationError) as info:
        sim.set_power_limit(0, 50)
    assert info.value.reason == "power limit 50 W outside [200, 700] W for H100"
    with pytest.raises(ActuationError):
        sim.set_power_limit(0, float("nan"))
    with pytest.raises(ActuationError, match="no GPU 8"):
        sim.set_power_limit(8, 300)
    assert sim.sample(0.0)[0].power_limit_w == 700.0  # unchanged


def test_clock_lock_within_range_slows_and_saves_power() -> None:
    sim = quiet()
    sim.assign(TRAIN)
    sim.lock_clocks(0, 210, 990)
    v = sim.view(0)
    assert v.throughput_factor == pytest.approx(0.5)
    assert v.sm_clock_mhz == 990
    assert v.power_w < 700 * 0.5  # P ~ f^3 territory: half speed, well under half power
    s = sim.sample(0.0)[0]
    assert s.throttle_reasons & ThrottleReason.APPLICATIONS_CLOCKS_SETTING
    sim.reset_clocks(0)
    assert sim.throughput_factor(0) == 1.0


@pytest.mark.parametrize(("lo", "hi"), [(100, 990), (210, 2500), (1000, 500)])
def test_clock_lock_outside_range_is_refused(lo: int, hi: int) -> None:
    with pytest.raises(ActuationError, match="MHz"):
        quiet().lock_clocks(0, lo, hi)


def test_colocated_service_time_grows_with_batch_neighbour() -> None:
    sim = quiet()
    sim.assign(SERVE)
    alone = sim.service_time_ms("web/chat", 0, 20.0)
    sim.assign(Load("ml/train", gpus=(0,), milli_gpu=500))
    shared = sim.service_time_ms("web/chat", 0, 20.0)
    assert alone == 20.0
    assert shared == pytest.approx(20.0 * 1.5 + 1.0)  # neighbour busy 50 %, 1 ms switch
    sim.unassign("ml/train")
    assert sim.service_time_ms("web/chat", 0, 20.0) == 20.0
    with pytest.raises(KeyError):
        sim.service_time_ms("web/chat", 1, 20.0)


def test_temperature_and_energy_follow_power_over_time() -> None:
    sim = quiet()
    sim.assign(TRAIN)
    t0 = sim.sample(0.0)[0].temperature_c
    t1 = sim.sample(10.0)[0].temperature_c
    t_late = sim.sample(1000.0)[0].temperature_c
    assert t0 < t1 < t_late == pytest.approx(75.0, abs=0.01)
    assert sim.energy_j(0) == pytest.approx(700.0 * 1000.0)
    assert sim.energy_j(1) == pytest.approx(75.0 * 1000.0)


def test_samples_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[object]:
        sim = SimulatedGpuBackend("A100-80GB", 4, seed=seed, node_name="n")
        sim.assign(Load("ml/train", gpus=(0, 1), milli_gpu=1000))
        return [sim.sample(float(t)) for t in range(5)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_noise_is_small_and_never_exceeds_the_cap() -> None:
    sim = SimulatedGpuBackend("H100", 2, seed=3)
    sim.assign(TRAIN)
    sim.set_power_limit(0, 300)
    for t in range(50):
        s = sim.sample(float(t))
        assert s[0].power_w <= 300.0
        assert s[0].power_w == pytest.approx(300.0, rel=0.03)
        assert 0.0 <= s[1].utilization_pct <= 100.0


def test_clock_stepping_back_counts_as_no_time() -> None:
    sim = quiet()
    sim.assign(TRAIN)
    sim.sample(100.0)
    sim.sample(50.0)  # wall clock stepped back: no crash, no negative energy
    assert sim.energy_j(0) == 0.0
    sim.sample(60.0)
    assert sim.energy_j(0) == pytest.approx(700.0 * 10.0)


def test_concurrent_assign_and_sample_do_not_race() -> None:
    sim = quiet()
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            # Enough interleavings to have caught the race (it failed 3 in 5 runs at 10,000),
            # bounded so a loaded machine cannot starve the churning thread past the timeout.
            for i in range(3000):
                sim.assign(Load(f"ns/w{i % 50}", gpus=(i % 8,), milli_gpu=100))
                sim.unassign(f"ns/w{(i + 25) % 50}")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    worker = threading.Thread(target=churn)
    worker.start()
    t = 0.0
    while worker.is_alive():
        t += 1.0
        sim.sample(t)
        time.sleep(0)  # let the churning thread have the GIL (and the lock) in between
    worker.join()
    assert errors == []


def test_injected_faults_show_up_once() -> None:
    sim = quiet()
    sim.inject_xid(2, 79)
    sim.inject_ecc_errors(2, 3)
    first = sim.sample(0.0)[2]
    assert first.xid_events == (79,) and first.ecc_uncorrected == 3
    second = sim.sample(1.0)[2]
    assert second.xid_events == () and second.ecc_uncorrected == 3  # counter is cumulative


def test_assign_rejects_bad_indices_and_unassign_is_idempotent() -> None:
    sim = quiet(count=2)
    with pytest.raises(ValueError, match="no GPU 5"):
        sim.assign(Load("a/b", gpus=(5,), milli_gpu=100))
    sim.unassign("never/assigned")
    with pytest.raises(KeyError):
        sim.set_duty_cycle("never/assigned", 0.5)


def test_trace_code_and_unknown_model() -> None:
    assert SimulatedGpuBackend("v100m32", 8).inventory()[0].model == "V100-32GB"
    with pytest.raises(KeyError, match="known models"):
        SimulatedGpuBackend("B300", 8)
