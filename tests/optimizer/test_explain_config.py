"""explain() counts and candidates; OptimizerConfig validation names the bad field."""

from __future__ import annotations

import pytest

from controlplane.optimizer import ConfigError, OptimizerConfig, explain
from tests.optimizer.builders import node, snapshot, workload


def test_explain_pending_counts_every_reason() -> None:
    nodes = [node(f"t{i}").gpus(2, model="T4") for i in range(4)]
    nodes += [node(f"a{i}").gpus(2, model="A100", memory_mib=16_000) for i in range(3)]
    nodes += [node("down").gpus(2, model="A100").not_ready()]
    snap = snapshot(
        nodes, [workload("a/w").wants(gpus=1, milli=500, gpu_mem=20_000, models=("A100",))]
    )
    e = explain(snap, "a/w", OptimizerConfig())
    assert (e.nodes_total, e.nodes_feasible) == (8, 0)
    assert e.rejections == (
        ("GPU model not accepted", 4),
        ("insufficient GPU memory", 3),
        ("node not ready", 1),
    )
    assert e.summary.startswith(
        "0/8 nodes fit: 4 GPU model not accepted, 3 insufficient GPU memory, 1 node not ready"
    )
    assert not e.never and not e.candidates


def test_explain_feasible_lists_ranked_candidates() -> None:
    snap = snapshot(
        [node("n1").gpus(2), node("n2").gpus(2), node("n3").gpus(2).cordoned()],
        [workload("a/x").wants(gpus=1).on("n1", (0,)), workload("a/w").wants(gpus=1)],
    )
    e = explain(snap, "a/w", OptimizerConfig(policy="bestfit"))
    assert e.nodes_feasible == 2 and e.rejections == (("node cordoned", 1),)
    assert [c.node for c in e.candidates] == ["n1", "n2"]
    assert e.candidates[0].score >= e.candidates[1].score
    assert "best n1" in e.summary


def test_explain_placed_work_frees_its_own_capacity_first() -> None:
    snap = snapshot([node("n1").gpus(1)], [workload("a/x").wants(gpus=1).on("n1", (0,))])
    e = explain(snap, "a/x", OptimizerConfig())
    assert e.assignment is not None and e.nodes_feasible == 1
    assert e.summary.startswith("placed on n1 (GPUs 0)")


def test_explain_never() -> None:
    snap = snapshot([node("n1").gpus(1)], [workload("a/x").wants(gpus=4)])
    e = explain(snap, "a/x", OptimizerConfig())
    assert e.never and "even empty" in e.summary


def test_explain_unknown_workload() -> None:
    with pytest.raises(KeyError):
        explain(snapshot([node("n1").gpus(1)]), "a/none", OptimizerConfig())


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(policy="nope"), "policy"),
        (dict(min_runtime_s=-1), "min_runtime_s"),
        (dict(min_runtime_s=float("nan")), "min_runtime_s"),
        (dict(candidates=99), "candidates"),
        (dict(seed="x"), "seed"),
        (dict(preemption="yes"), "preemption"),
        (dict(plugin_args={"nope": {}}), "plugin_args.nope"),
        (dict(plugin_args={"fgd": {"coverag": 0.9}}), "plugin_args.fgd.coverag"),
        (dict(plugin_args={"fgd": {"coverage": "high"}}), "plugin_args.fgd.coverage"),
        (dict(plugin_args={"fgd": {"coverage": 1.5}}), "plugin_args.fgd.coverage"),
        (dict(plugin_args={"aiwo": {"refresh": 0}}), "plugin_args.aiwo.refresh"),
    ],
)
def test_config_errors_name_the_field(kwargs, field) -> None:
    with pytest.raises(ConfigError) as info:
        OptimizerConfig(**kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")


def test_config_is_frozen_and_plugin_args_read_only() -> None:
    c = OptimizerConfig(plugin_args={"fgd": {"coverage": 0.9}})
    with pytest.raises(AttributeError):
        c.policy = "random"  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.plugin_args["fgd"]["coverage"] = 0.5  # type: ignore[index]
