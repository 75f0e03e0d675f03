"""GPU health rules (controlplane/view/health.py): which XIDs, ECC deltas and throttle bits
make a GPU unhealthy or are shown."""

from __future__ import annotations

import numpy as np
import pytest

from controlplane.view.health import FATAL_XIDS, HealthMemory, assess, throttles_of


@pytest.mark.parametrize(
    ("xids", "ecc", "ecc_before", "unhealthy"),
    [
        ((), 0, None, False),
        ((), 0, 0, False),
        ((48,), 0, 0, True),  # double-bit ECC
        ((79,), 0, None, True),  # fallen off the bus: fatal even on the first sample
        ((13,), 0, 0, False),  # graphics engine exception: the application's fault
        ((31, 43), 0, 0, False),  # page fault, stopped channel: the application's
        ((13, 95), 0, 0, True),  # any fatal XID among them
        ((), 5, None, False),  # first sample seen: the baseline, not news
        ((), 5, 5, False),
        ((), 6, 5, True),  # the counter rose
        ((), 4, 5, False),  # fell (counter reset by a GPU reset): not a new error
    ],
)
def test_assess(xids: tuple[int, ...], ecc: int, ecc_before: int | None, unhealthy: bool) -> None:
    assert bool(assess(xids, ecc, ecc_before)) is unhealthy


@pytest.mark.parametrize("xid", [48, 63, 64, 74, 79, 92, 94, 95, 119, 120])
def test_the_documented_fatal_xids(xid: int) -> None:
    assert xid in FATAL_XIDS
    assert assess((xid,), 0, 0).startswith(f"XID {xid}: ")


def test_reasons_name_the_cause() -> None:
    assert assess((79,), 0, 0) == "XID 79: GPU has fallen off the bus"
    assert assess((), 3, 1) == "uncorrected ECC errors: 1 -> 3"


@pytest.mark.parametrize(
    ("bits", "names"),
    [
        (0x0, []),
        (0x1 | 0x2 | 0x4, []),  # idle, app clocks, SW power cap: normal operation, not shown
        (0x8, ["hw_slowdown"]),
        (0x20, ["sw_thermal"]),
        (0x40, ["hw_thermal"]),
        (0x80, ["hw_power_brake"]),
        (0x4 | 0x40 | 0x80, ["hw_thermal", "hw_power_brake"]),
    ],
)
def test_throttles_shown(bits: int, names: list[str]) -> None:
    assert throttles_of(bits) == names


def test_memory_reports_each_gpu_once_and_tracks_ecc_per_gpu() -> None:
    memory = HealthMemory()
    nan = np.nan
    assert memory.newly_unhealthy("n1", np.array([2.0, 0.0]), {}, known=()) == {}
    found = memory.newly_unhealthy("n1", np.array([2.0, 0.0]), {1: (79,)}, known=())
    assert found == {1: "XID 79: GPU has fallen off the bus"}
    # Already in the node record: not found again.
    assert memory.newly_unhealthy("n1", np.array([2.0, 0.0]), {1: (79,)}, known=(1,)) == {}
    rose = memory.newly_unhealthy("n1", np.array([3.0, 0.0]), {}, known=(1,))
    assert rose == {0: "uncorrected ECC errors: 2 -> 3"}
    # A GPU missing from a report (NaN) keeps its baseline: no rise, and none afterwards.
    assert memory.newly_unhealthy("n2", np.array([5.0, 1.0]), {}, known=()) == {}
    assert memory.newly_unhealthy("n2", np.array([nan, 1.0]), {}, known=()) == {}
    assert memory.newly_unhealthy("n2", np.array([5.0, 1.0]), {}, known=()) == {}
    assert list(memory.newly_unhealthy("n2", np.array([6.0, 1.0]), {}, known=())) == [0]
    # An application XID is not the GPU's.
    assert memory.newly_unhealthy("n2", np.array([6.0, 1.0]), {1: (13, 31)}, known=(0,)) == {}
    memory.forget("n1")
    assert memory.newly_unhealthy("n1", np.array([9.0, 9.0]), {}, known=()) == {}
