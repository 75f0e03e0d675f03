"""`aiwo bench gateway` end to end with tiny settings: the real processes, both paths."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bench.main import main as bench_main


def test_gateway_bench_runs_both_paths_and_streams() -> None:
    result = CliRunner().invoke(
        bench_main,
        ["gateway", "--rate", "20", "--duration", "2", "--rounds", "1", "--streams", "20",
         "--stream-s", "1", "--stream-tpot-ms", "50", "-o", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    [round_0] = report["overhead"]
    for path in ("direct", "gateway"):
        assert round_0[path]["errors"] == 0 and round_0[path]["ok"] > 0
    assert set(round_0["added_ms"]) >= {"ttft_ms_median", "latency_ms_p99"}
    assert report["streams"]["ok"] == 20 and report["streams"]["tokens_per_stream"] == 20
    assert report["controller_reports"] > 0  # the gateway reported to its controller
