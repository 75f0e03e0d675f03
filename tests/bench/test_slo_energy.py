"""aiwo-bench slo's energy accounting: same work, same time, and the bound on any policy."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.slo.bound import energy_bound
from bench.slo.report import per_seed
from bench.slo.run import RunResult
from gpumodel import perf
from gpumodel.models import get_model

A100 = get_model("A100-80GB")
HOUR = 3600.0
E = 400.0 - 63.0  # uncapped training power above idle, per unit of batch work


def result(mode: str, energy_kwh: float, batch_work: float) -> RunResult:
    return RunResult(
        mode=mode,
        seed=0,
        requests=100,
        within_target=100,
        batch_work=batch_work,
        batch_alone_work=4 * HOUR,
        energy_j=energy_kwh * 3.6e6,
        actions={},
        max_changes_per_min={"gpu_cap": 0, "directive_throttle": 0, "process_throttle": 0},
        gpu_model="A100-80GB",
        gpus=8,
        duration_s=HOUR,
        batch_marginal_w=E,
    )


def test_batch_work_not_done_is_charged_what_none_spends_on_it() -> None:
    none = result("none", 2.3, 4 * HOUR)
    aiwo = result("aiwo", 2.0, 3.2 * HOUR)  # 80 % of the batch work
    m = per_seed([none, aiwo])[0]["aiwo"]
    charged = 2.0 + 0.8 * HOUR * E / 3.6e6  # 0.27 kWh for 0.8 GPU-hours of training
    assert m["energy_same_work_kwh"] == pytest.approx(charged, abs=1e-4)
    assert m["energy_saved_pct"] == pytest.approx(100 * (1 - charged / 2.3), abs=0.01)
    assert m["energy_saved_same_time_pct"] == pytest.approx(100 * (1 - 2.0 / 2.3), abs=0.01)
    # the same batch work: both measures agree
    same = per_seed([none, replace(aiwo, batch_work=4 * HOUR)])[0]["aiwo"]
    assert same["energy_saved_pct"] == same["energy_saved_same_time_pct"]


def test_bound_from_the_model() -> None:
    """idle of every GPU + what the services drew in `none` at the lowest clock's decode power
    + 80 % of the batch work at the curve's best efficiency: on a GPU busy with training,
    capped to keep 80 %."""
    none = result("none", 2.305, 4 * HOUR)
    b = energy_bound(none)
    idle_kwh = 8 * 63.0 / 1000
    # decode's power above idle at the lowest clock: 1 - s + s r^3 (docs/gpu-model.md §5)
    floor = 1 - perf.DECODE_CLOCK_POWER_SHARE + perf.DECODE_CLOCK_POWER_SHARE * 0.1**3
    services_kwh = (2.305 - idle_kwh - 4 * E / 1000) * floor
    cap = perf.cap_for_throughput_w(0.8, 400.0, A100.curve_p0_w, A100.curve_alpha)
    batch_kwh = 4 * (cap - 63.0) / 1000
    assert b.min_kwh == pytest.approx(idle_kwh + services_kwh + batch_kwh)
    assert b.saved_same_time_pct == pytest.approx(100 * (1 - b.min_kwh / 2.305))
    undone_kwh = 0.2 * 4 * E / 1000
    assert b.saved_pct == pytest.approx(100 * (1 - (b.min_kwh + undone_kwh) / 2.305))
    assert 19.0 < b.saved_pct < 22.5 and 30.0 < b.saved_same_time_pct < 34.0
