"""The runnable examples: directive handling alone, then as programs on the real controller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdk import Directive, DirectiveKind
from sdk.examples.inference_service import SimulatedServer
from sdk.examples.training_job import SimulatedTrainer
from tests.sdk.processes import LocalControlPlane


def directive(kind: DirectiveKind, **fields: object) -> Directive:
    return Directive(id="d", kind=kind, **fields)  # type: ignore[arg-type]


def p99(samples: list[float]) -> float:
    return sorted(samples)[int(0.99 * len(samples))]


def test_inference_directives_change_behaviour() -> None:
    server = SimulatedServer("chat")
    assert server.tick()[1] == 0.0  # not serving before it is placed
    server.handle(directive(DirectiveKind.PLACEMENT, node="n1", gpus=(0,)))
    baseline, throughput, _ = server.tick()
    assert throughput > 0 and p99(baseline) < 100  # inside its SLO at the default load

    server.handle(directive(DirectiveKind.THROTTLE, factor=0.4))
    throttled, throttled_tput, _ = server.tick()
    assert p99(throttled) > p99(baseline)
    assert throttled_tput <= 0.4 * 260.0 + 1e-9  # 40 % of the fp16 capacity

    server.handle(directive(DirectiveKind.UNTHROTTLE))
    server.handle(directive(DirectiveKind.SWITCH_VARIANT, variant="int8"))
    assert server.variant == "int8"
    with pytest.raises(ValueError, match="int4"):  # -> a failed ack with this text
        server.handle(directive(DirectiveKind.SWITCH_VARIANT, variant="int4"))

    server.handle(directive(DirectiveKind.PREEMPT))
    assert server.tick()[1] == 0.0


def test_training_checkpoints_and_resumes(tmp_path: Path) -> None:
    trainer = SimulatedTrainer("train", gpus=2, directory=tmp_path)
    trainer.handle(directive(DirectiveKind.PLACEMENT, node="n1", gpus=(0, 1)))
    assert trainer.tick(10.0) > 0 and trainer.step > 0
    trainer.handle(directive(DirectiveKind.THROTTLE, factor=0.5))
    assert trainer.tick(1.0) == pytest.approx(1250.0)
    trainer.handle(directive(DirectiveKind.PREEMPT))
    saved = json.loads((tmp_path / "latest.json").read_text())["step"]
    assert saved == trainer.step and trainer.tick(1.0) == 0.0

    again = SimulatedTrainer("train", gpus=2, directory=tmp_path)
    again.handle(directive(DirectiveKind.PLACEMENT, node="n2", gpus=(3, 4)))
    assert again.step == saved


def run_example(plane: LocalControlPlane, module: str, name: str, *extra: str, env=None):
    return subprocess.run(
        [sys.executable, "-m", module, "--controller", plane.address, "--name", name,
         "--duration", "4", *extra],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_inference_service_runs_against_the_controller(plane: LocalControlPlane) -> None:
    result = run_example(plane, "sdk.examples.inference_service", "ex-chat")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "registered default/ex-chat" in result.stdout
    assert "serving on node-1" in result.stdout
    assert "deregistered" in result.stdout


def test_training_job_runs_and_checkpoints(plane: LocalControlPlane, tmp_path: Path) -> None:
    env = {**os.environ, "AIWO_CHECKPOINT_DIR": str(tmp_path)}
    result = run_example(plane, "sdk.examples.training_job", "ex-train", "--gpus", "2", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "training on node-1" in result.stdout
    latest = json.loads((tmp_path / "ex-train" / "latest.json").read_text())
    assert latest["step"] > 0 and latest["why"] == "stopping"


def run_counter(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sdk.examples.counter", "--checkpoint-dir", str(tmp_path / "ck"),
         "--count-log", str(tmp_path / "counts"), "--interval-s", "0", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_counter_resumes_where_its_checkpoint_says(tmp_path: Path) -> None:
    assert run_counter(tmp_path, "--limit", "20").returncode == 0
    second = run_counter(tmp_path, "--limit", "30")
    assert second.returncode == 0 and "resumed after 20" in second.stderr
    counts = [int(x) for x in (tmp_path / "counts").read_text().split()]
    assert counts == list(range(1, 31))


def test_counter_checkpoints_on_sigterm_and_refuses_a_damaged_checkpoint(tmp_path: Path) -> None:
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "sdk.examples.counter", "--checkpoint-dir", str(tmp_path / "ck"),
         "--count-log", str(tmp_path / "counts"), "--interval-s", "0.01"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not (tmp_path / "counts").exists() or len((tmp_path / "counts").read_text()) < 20:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    last = int((tmp_path / "counts").read_text().split()[-1])
    assert json.loads((tmp_path / "ck" / "counter.json").read_text())["count"] == last
    data = json.loads((tmp_path / "ck" / "counter.json").read_text())
    (tmp_path / "ck" / "counter.json").write_text(json.dumps({**data, "count": last + 5}))
    damaged = run_counter(tmp_path, "--limit", "1")
    assert damaged.returncode == 3 and "not starting over from zero" in damaged.stderr
    assert int((tmp_path / "counts").read_text().split()[-1]) == last  # nothing counted
