"""Fault injection into the simulated backend through its fault file (gpu/sim_faults.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodeagent.gpu.sim import SimulatedGpuBackend
from nodeagent.gpu.sim_faults import parse_faults


def test_faults_from_the_file_reach_the_samples(tmp_path: Path) -> None:
    path = tmp_path / "sim-faults.json"
    sim = SimulatedGpuBackend("H100", 4, fault_file=path, noise=False)
    path.write_text(
        json.dumps([{"gpu": 2, "xid": 79}, {"gpu": 1, "ecc": 2}, {"gpu": 3, "throttle": 0x40}])
    )
    first = sim.sample(0.0)
    assert not path.exists()  # consumed
    assert first[2].xid_events == (79,)
    assert first[1].ecc_uncorrected == 2
    assert first[3].throttle_reasons & 0x40
    second = sim.sample(1.0)
    assert second[2].xid_events == ()  # an XID is one event
    assert second[1].ecc_uncorrected == 2  # the counter is cumulative
    assert second[3].throttle_reasons & 0x40  # forced until cleared
    path.write_text(json.dumps({"gpu": 3, "throttle": 0}))
    assert not sim.sample(2.0)[3].throttle_reasons & 0x40


def test_a_malformed_file_is_removed_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sim-faults.json"
    sim = SimulatedGpuBackend("H100", 2, fault_file=path, noise=False)
    path.write_text("{not json")
    samples = sim.sample(0.0)
    assert not path.exists()
    assert all(s.xid_events == () and s.ecc_uncorrected == 0 for s in samples)


@pytest.mark.parametrize(
    "text",
    ['{"xid": 79}', '{"gpu": 0}', '{"gpu": 0, "xid": 79, "ecc": 1}', '{"gpu": 0, "ecc": -1}'],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_faults(text)
