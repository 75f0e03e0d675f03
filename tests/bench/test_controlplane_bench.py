"""aiwo-bench controlplane runs end to end on a real controller (tiny sizes; no timing asserted)."""

import json

from click.testing import CliRunner

from bench.controlplane import controlplane


def test_controlplane_bench_reports_ingest_and_placement() -> None:
    result = CliRunner().invoke(
        controlplane, ["--nodes", "2", "--seconds", "1", "--workloads", "3", "-o", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ingest"]["reports_per_s"] > 0
    assert report["placement_ms"]["workloads"] == 3
    assert report["placement_ms"]["median"] <= report["placement_ms"]["max"]
