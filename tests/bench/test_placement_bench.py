"""A small-trace run of `aiwo-bench placement`, the seed protocol, and the recorded points."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from click.testing import CliRunner, Result

from bench.main import main
from bench.options import parse_seeds
from bench.sequence import pod_order
from bench.sim import ARRIVED_POINTS, run_seed, unallocated_at
from bench.trace import read_nodes, read_pods


def small_trace(tmp_path: Path, pods: int = 300) -> tuple[Path, Path]:
    rng = random.Random(7)
    nodes = tmp_path / "nodes.csv"
    lines = ["sn,cpu_milli,memory_mib,gpu,model"]
    for i in range(24):
        model, gpus, cpu = [("G2", 8, 96000), ("T4", 2, 104000), ("P100", 2, 16000)][i % 3]
        lines.append(f"node-{i:03d},{cpu},262144,{gpus},{model}")
    nodes.write_text("\n".join(lines) + "\n")
    shapes = [
        (1, 1000, 12000),
        (1, 500, 6000),
        (1, 250, 4000),
        (0, 0, 8000),
        (2, 1000, 16000),
        (1, 810, 4000),
    ]
    lines = ["name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec"]
    for i in range(pods):
        g, m, c = rng.choice(shapes)
        spec = "T4" if i % 37 == 0 and g else ""
        lines.append(f"pod-{i:04d},{c},8192,{g},{m},{spec}")
    path = tmp_path / "pods.csv"
    path.write_text("\n".join(lines) + "\n")
    return nodes, path


def placement(nodes: Path, pods: Path, *args: str) -> Result:
    """`aiwo-bench placement` on this trace, in one worker process."""
    command = ["placement", "--nodes", str(nodes), "--pods", str(pods), "--workers", "1"]
    return CliRunner().invoke(main, [*command, *args])


def test_placement_json_over_seeds_and_policies(tmp_path: Path) -> None:
    nodes, pods = small_trace(tmp_path)
    result = placement(
        nodes, pods, "--policy", "random,bestfit,fgd,default", "--seeds", "1-3", "-o", "json"
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert list(out) == ["random", "bestfit", "fgd", "default"]
    for points in out.values():
        assert list(points) == [str(x) for x in ARRIVED_POINTS]
        for p in points.values():
            assert 0.0 <= p["min"] <= p["median"] <= p["max"] <= 100.0


def test_placement_table_and_bad_trace(tmp_path: Path) -> None:
    nodes, pods = small_trace(tmp_path, pods=120)
    ok = placement(nodes, pods, "--policy", "bestfit", "--seeds", "1")
    assert ok.exit_code == 0 and "bestfit" in ok.output and "130 %" in ok.output
    bad = tmp_path / "bad.csv"
    bad.write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1,1,1,lots\n")
    res = placement(nodes, bad, "--seeds", "1")
    assert res.exit_code == 1
    assert "bad.csv:2: column 'gpu_milli': not an integer" in res.output


def test_unknown_policy_is_refused(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["placement", "--policy", "bestfit,magic"])
    assert res.exit_code == 2 and "magic" in res.output


def test_parse_seeds() -> None:
    assert parse_seeds("42-45") == [42, 43, 44, 45]
    assert parse_seeds("1,5-6") == [1, 5, 6]


def test_pod_order_uses_every_pod_then_draws_to_the_tune(tmp_path: Path) -> None:
    _, pods_csv = small_trace(tmp_path)
    pods = read_pods(pods_csv)
    capacity = 200_000  # above the trace's own total, so extra draws are needed
    order = pod_order(pods, capacity, 1.3, np.random.default_rng(1))
    assert sorted(order[: len(pods)]) == list(range(len(pods)))
    total = sum(pods[i].gpu_milli for i in order)
    assert total <= 1.3 * capacity
    assert total + max(p.gpu_milli for p in pods) > 1.3 * capacity - 2000


def test_same_seed_same_result(tmp_path: Path) -> None:
    nodes_csv, pods_csv = small_trace(tmp_path, pods=150)
    nodes, pods = read_nodes(nodes_csv), read_pods(pods_csv)
    a = run_seed(nodes, pods, "fgd", 3, 1.3)
    b = run_seed(nodes, pods, "fgd", 3, 1.3)
    assert repr(a) == repr(b) and a.failed > 0  # repr: NaN points compare unequal


def test_unallocated_at_averages_the_pods_that_round_to_each_point() -> None:
    capacity = 1000
    arrived = np.array([895, 904, 996, 1004, 1300])
    allocated = np.array([890, 900, 950, 960, 1000])
    out = unallocated_at(arrived, allocated, capacity, (90, 100, 110, 130, 140))
    assert out[90] == 100 - (89.0 + 90.0) / 2
    assert out[100] == 100 - (95.0 + 96.0) / 2
    assert out[110] == 100 - 96.0  # jumped over: the state after the last pod below 110 %
    assert out[130] == 0.0
    assert np.isnan(out[140])
