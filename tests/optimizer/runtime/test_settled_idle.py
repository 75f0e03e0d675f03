"""The settled-idle shortcut of the GPU pass skips exactly the GPUs the full decision would
leave alone: an idle GPU at the minimum limit this runtime set, reporting it."""

from dataclasses import replace

import pytest

from controlplane.optimizer.runtime import RuntimeConfig, action_target
from controlplane.optimizer.runtime.gpu_power import _desired, _diff, _settled_idle
from controlplane.optimizer.runtime.memory import GpuControl, MemoryBuilder, RuntimeMemory
from tests.optimizer.runtime.builders import Loop, gpu, job, snap

NOW = 1000.0
SETTLED = GpuControl(cap_w=100.0, owner="idle", changed_at=NOW - 500.0)


def _full_path(g, control, config):  # type: ignore[no-untyped-def]
    b = MemoryBuilder.of(RuntimeMemory(), NOW)
    return _diff(g, control, _desired(g, {}, b, control, NOW, config, 0.8), NOW, config)


@pytest.mark.parametrize(
    ("case", "g", "control", "config"),
    [
        ("settled", gpu(cap=100.0), SETTLED, RuntimeConfig()),
        ("reported cap drifted", gpu(cap=400.0), SETTLED, RuntimeConfig()),
        ("work placed", gpu("n1", 0, job("b"), cap=100.0), SETTLED, RuntimeConfig()),
        ("guard's cap", gpu(cap=100.0), replace(SETTLED, owner="guard"), RuntimeConfig()),
        ("idle_to_min off", gpu(cap=100.0), SETTLED, RuntimeConfig(idle_to_min=False)),
        ("energy off", gpu(cap=100.0), SETTLED, RuntimeConfig(energy=False)),
        ("a clock lock", replace(gpu(cap=100.0), clock_lock_mhz=(900, 900)), SETTLED,
         RuntimeConfig()),
        ("not at the minimum", gpu(cap=150.0), replace(SETTLED, cap_w=150.0), RuntimeConfig()),
    ],
)  # fmt: skip
def test_the_shortcut_applies_only_where_the_full_decision_does_nothing(
    case: str,
    g,
    control,
    config,  # type: ignore[no-untyped-def]
) -> None:
    if _settled_idle(g, control, config):
        assert case == "settled"
        assert _full_path(g, control, config) is None  # the decision it stands for
    else:
        assert case != "settled"


def test_a_settled_fleet_plans_nothing_and_a_drifted_gpu_is_capped_again() -> None:
    loop = Loop()
    s = snap(*(gpu("n1", i) for i in range(4)))
    assert len(loop.step(s).actions) == 4  # every idle GPU to its minimum
    assert loop.step(s, dt=61.0).actions == ()  # settled: the shortcut
    loop.caps[("n1", 2)] = 400.0  # someone reset GPU 2's limit
    again = loop.step(s, dt=61.0)
    assert [action_target(a) for a in again.actions] == ["gpu/n1/2"]
    assert type(again.actions[0]).__name__ == "SetPowerCap"
