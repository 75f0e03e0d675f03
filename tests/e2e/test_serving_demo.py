"""`aiwo up --demo` runs the autoscaled example service behind the gateway and replays a trace
through it (a small synthetic trace in the Azure format here: the real ones are not copied)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.cluster_helpers import wait_for

BIN = Path(sys.executable).parent


def azure_trace(path: Path, requests: int, every_s: float) -> Path:
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for i in range(requests):
        seconds = i * every_s
        lines.append(f"2023-11-16 18:{int(seconds // 60):02d}:{seconds % 60:09.6f},256,32")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_demo_serves_an_autoscaled_service_under_a_replayed_trace(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "AIWO_STATE_DIR": str(state),
           "AIWO_DEMO_TRACE": str(azure_trace(tmp_path / "trace.csv", 400, 0.25))}  # fmt: skip
    env.pop("AIWO_CONTROLLER", None)
    up = subprocess.Popen(
        [str(BIN / "aiwo"), "up", "--demo", "--nodes", "2", "--gpus-per-node", "2",
         "--duration", "100"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def aiwo_json(*args: str) -> object:
        out = subprocess.run([str(BIN / "aiwo"), *args, "-o", "json"], env=env,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    try:
        wait_for(lambda: (state / "cluster.json").exists() and up.poll() is None, 60, "up")
        cluster = json.loads((state / "cluster.json").read_text())
        assert cluster["gateway"]

        def served() -> dict[str, object] | None:
            described = aiwo_json("describe", "service", "llm")
            assert isinstance(described, dict)
            demand = described["demand"]
            assert isinstance(demand, dict)
            ready = described["replicas"] >= 1  # type: ignore[operator]
            return described if ready and demand["arrivals_per_s"] > 0 else None

        described = wait_for(served, 60, "the demo service serves the replayed trace")
        assert described is not None and (described["min"], described["max"]) == (1, 4)
    finally:
        if up.poll() is None:
            # SIGTERM, which `aiwo up` handles itself: SIGINT is ignored by a process started
            # in the background of a shell without job control (as CI may run the suite).
            up.send_signal(signal.SIGTERM)
        _, err = up.communicate(timeout=60)
    assert "demo service default/llm" in err, err[-2000:]
