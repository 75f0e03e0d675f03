"""Policies: named, weighted sets of Score plugins, and the registry of their names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from controlplane.optimizer.demand import Demand
from controlplane.optimizer.errors import ConfigError
from controlplane.optimizer.plugin_config import parse_args
from controlplane.optimizer.scores import (
    SCORES,
    ArrivalObserver,
    PluginContext,
    ScoreInput,
    ScorePlugin,
    Scores,
)

# policy -> (score plugin, weight), the first plugin that picks a GPU picks it.
POLICIES: dict[str, tuple[tuple[str, float], ...]] = {
    "random": (("random", 1.0),),
    "dotprod": (("dotprod", 1.0),),
    "packing": (("packing", 1.0),),
    "clustering": (("clustering", 1.0),),
    "bestfit": (("bestfit", 1.0),),
    "fgd": (("fgd", 1.0),),
    "aiwo": (("aiwo", 1.0),),
}
# The controller's default: aiwo's fragmentation score, plus spreading a service's replicas
# (neutral for work without a service). Spread weighs as much as placement: availability of a
# replicated service is worth a little fragmentation.
POLICIES["default"] = (("aiwo", 1.0), ("spread", 1.0))

POLICY_NAMES: tuple[str, ...] = tuple(POLICIES)


@dataclass(frozen=True)
class Policy:
    name: str
    plugins: tuple[tuple[ScorePlugin, float], ...]
    # The plugins that also learn from arrivals, found once when the policy is built.
    observers: tuple[ArrivalObserver, ...] = ()

    def observe(self, demand: Demand) -> None:
        for observer in self.observers:
            observer.observe(demand)

    def observe_many(self, demands: Sequence[Demand]) -> None:
        for observer in self.observers:
            observer.observe_many(demands)

    def score(self, inp: ScoreInput) -> Scores:
        if len(self.plugins) == 1 and self.plugins[0][1] == 1.0:
            return self.plugins[0][0].score(inp)
        total = np.zeros(len(inp.nodes))
        gpu = None
        for plugin, weight in self.plugins:
            s = plugin.score(inp)
            total += weight * s.values
            if gpu is None:
                gpu = s.gpu
        return Scores(total, gpu)


@dataclass(frozen=True)
class PolicySpec:
    """A policy name with its plugins' parameters, checked and typed: what building a
    Policy needs, validated once (OptimizerConfig holds one)."""

    name: str
    args: Mapping[str, Any]  # score plugin -> its parameters dataclass


def parse_policy(name: str, plugin_args: Mapping[str, Mapping[str, Any]]) -> PolicySpec:
    """Check the policy name and every plugin's parameters; ConfigError names the field."""
    if name not in POLICIES:
        raise ConfigError("policy", f"unknown {name!r} (known: {', '.join(POLICIES)})")
    parsed: dict[str, Any] = {}
    for plugin, args in plugin_args.items():
        spec = SCORES.get(plugin)
        if spec is None:
            raise ConfigError(
                f"plugin_args.{plugin}", f"unknown score plugin (known: {', '.join(SCORES)})"
            )
        parsed[plugin] = parse_args(spec.config, args, f"plugin_args.{plugin}")
    for plugin, _ in POLICIES[name]:
        if plugin not in parsed:
            parsed[plugin] = parse_args(SCORES[plugin].config, {}, f"plugin_args.{plugin}")
    return PolicySpec(name, MappingProxyType(parsed))


def instantiate(spec: PolicySpec, context: PluginContext | None = None) -> Policy:
    """Fresh plugins for a checked spec (plugins that learn keep state: one set per use)."""
    context = context or PluginContext()
    plugins = tuple(
        (SCORES[plugin].factory(spec.args[plugin], context), weight)
        for plugin, weight in POLICIES[spec.name]
    )
    observers = tuple(p for p, _ in plugins if isinstance(p, ArrivalObserver))
    return Policy(spec.name, plugins, observers)


def build_policy(
    name: str,
    plugin_args: Mapping[str, Mapping[str, Any]] | None = None,
    context: PluginContext | None = None,
) -> Policy:
    """Check and build in one go, for callers holding plain values (the benches)."""
    return instantiate(parse_policy(name, plugin_args or {}), context)
