"""The optimizer's extension points: each filter says when its verdict can change, plugins
that learn the mix are found once, and the policy is checked when the config is built."""

from __future__ import annotations

import pytest

from controlplane.optimizer import ConfigError, OptimizerConfig
from controlplane.optimizer.filters import FILTERS, capacity_filters, load_proof_filters
from controlplane.optimizer.policy import POLICIES, build_policy, instantiate, parse_policy
from controlplane.optimizer.scores import ArrivalObserver


def test_an_empty_healthy_node_is_judged_by_every_filter_but_the_conditions() -> None:
    # "Can never fit" (can_ever_fit) runs these on empty nodes; the registry's order stays.
    assert [f.name for f in capacity_filters()] == [
        "gpu_count", "gpu_model", "cpu", "memory", "gpu_share", "gpu_memory",
    ]  # fmt: skip


def test_eviction_room_is_made_only_where_load_proof_filters_pass() -> None:
    assert [f.name for f in load_proof_filters()] == [
        "node_ready", "node_not_cordoned", "gpu_count", "gpu_healthy", "gpu_model",
    ]  # fmt: skip


def test_every_filter_declares_both_properties() -> None:
    for name, factory in FILTERS.items():
        f = factory()
        assert f.name == name
        assert isinstance(f.condition, bool) and isinstance(f.load, bool)
        assert not (f.condition and f.load), f"{name}: a condition is not a capacity"


def test_only_plugins_that_learn_the_mix_observe_arrivals() -> None:
    observing = {
        name: [type(o).__name__ for o in build_policy(name).observers] for name in POLICIES
    }
    assert observing["fgd"] == ["Fgd"]
    assert observing["default"] == ["AiwoScore"]
    assert observing["bestfit"] == []
    for name in POLICIES:
        for plugin, _ in build_policy(name).plugins:
            assert isinstance(plugin, ArrivalObserver) == (
                type(plugin).__name__ in ("Fgd", "AiwoScore")
            )


def test_the_config_holds_the_checked_policy() -> None:
    config = OptimizerConfig(policy="fgd", plugin_args={"fgd": {"coverage": 0.9}})
    assert config.policy_spec == parse_policy("fgd", {"fgd": {"coverage": 0.9}})
    assert config.policy_spec.args["fgd"].coverage == 0.9
    # Each optimize() gets fresh plugins from the spec (learning plugins keep state).
    first, second = instantiate(config.policy_spec), instantiate(config.policy_spec)
    assert first.plugins[0][0] is not second.plugins[0][0]


@pytest.mark.parametrize(
    ("policy", "args", "field"),
    [
        ("nope", {}, "policy"),
        ("fgd", {"nope": {}}, "plugin_args.nope"),
        ("fgd", {"fgd": {"coverage": "x"}}, "plugin_args.fgd.coverage"),
    ],
)
def test_a_bad_policy_is_refused_when_the_config_is_built(
    policy: str, args: dict[str, dict[str, object]], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        OptimizerConfig(policy=policy, plugin_args=args)
    assert info.value.field == field
