"""SLO verdicts (including bad and missing p99s) and configuration errors that name the field."""

from __future__ import annotations

import math

import pytest

from controlplane.optimizer.errors import ConfigError
from controlplane.optimizer.runtime import RuntimeConfig, SloState
from controlplane.optimizer.runtime.slo_judge import judge
from tests.optimizer.runtime.builders import ls


@pytest.mark.parametrize(
    ("p99", "state"),
    [
        (95.0, SloState.BREACH),
        (90.0, SloState.HOLD),
        (70.0, SloState.HOLD),
        (69.9, SloState.SLACK),
        (None, SloState.UNKNOWN),
        (math.nan, SloState.UNKNOWN),
        (-1.0, SloState.UNKNOWN),
        (math.inf, SloState.UNKNOWN),
    ],
)
def test_verdicts(p99: float | None, state: SloState) -> None:
    v = judge(ls("a", p99=p99, target=100.0), RuntimeConfig())
    assert v.state is state
    if state is SloState.UNKNOWN:
        assert "neither meeting nor breaking" in v.reason.message
        assert v.p99_ms is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"breach_ratio": 0.0}, "breach_ratio"),
        ({"relax_ratio": 0.95}, "relax_ratio"),  # must be below breach_ratio
        ({"escalate_after_s": -1.0}, "escalate_after_s"),
        ({"relax_after_s": math.nan}, "relax_after_s"),
        ({"max_actions_per_minute": 0}, "max_actions_per_minute"),
        ({"max_actions_per_minute": True}, "max_actions_per_minute"),
        ({"max_actions_per_gpu_minute": -0.1}, "max_actions_per_gpu_minute"),
        ({"max_actions_per_gpu_minute": math.inf}, "max_actions_per_gpu_minute"),
        ({"ladder": ("throttle", "reboot")}, "ladder"),
        ({"ladder": ("throttle", "throttle")}, "ladder"),
        ({"ladder": ["throttle"]}, "ladder"),
        ({"throttle_factor": 1.0}, "throttle_factor"),
        ({"process_cpu_fraction": -0.1}, "process_cpu_fraction"),
        ({"energy": "yes"}, "energy"),
        ({"energy_batch_keep": 0.0}, "energy_batch_keep"),
        ({"energy_slo_headroom": 0.8}, "energy_slo_headroom"),  # must be <= relax_ratio
        ({"guard_cap_fraction": 2.0}, "guard_cap_fraction"),
        ({"variant_min_dwell_s": "600"}, "variant_min_dwell_s"),
    ],
)
def test_config_errors_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        RuntimeConfig(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_defaults_build() -> None:
    c = RuntimeConfig()
    assert c.breach_ratio > c.relax_ratio >= c.energy_slo_headroom
    assert "power_cap" not in c.ladder
