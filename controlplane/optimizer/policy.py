"""Policies: named, weighted sets of Score plugins, and the registry of their names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from controlplane.optimizer.demand import Demand
from controlplane.optimizer.errors import ConfigError
from controlplane.optimizer.plugin_config import parse_args
from controlplane.optimizer.scores import SCORES, PluginContext, ScoreInput, ScorePlugin, Scores

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

    def observe(self, demand: Demand) -> None:
        for plugin, _ in self.plugins:
            plugin.observe(demand)

    def observe_many(self, demands: Sequence[Demand]) -> None:
        for plugin, _ in self.plugins:
            plugin.observe_many(demands)

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


def check_plugin_args(policy: str, plugin_args: Mapping[str, Mapping[str, Any]]) -> None:
    if policy not in POLICIES:
        raise ConfigError("policy", f"unknown policy {policy!r} (known: {', '.join(POLICIES)})")
    for name, args in plugin_args.items():
        spec = SCORES.get(name)
        if spec is None:
            raise ConfigError(
                f"plugin_args.{name}", f"unknown score plugin (known: {', '.join(SCORES)})"
            )
        parse_args(spec.config, args, f"plugin_args.{name}")


def build_policy(
    name: str,
    plugin_args: Mapping[str, Mapping[str, Any]] | None = None,
    context: PluginContext | None = None,
) -> Policy:
    plugin_args = plugin_args or {}
    check_plugin_args(name, plugin_args)
    context = context or PluginContext()
    plugins = []
    for plugin_name, weight in POLICIES[name]:
        spec = SCORES[plugin_name]
        config: Any = parse_args(
            spec.config, plugin_args.get(plugin_name, {}), f"plugin_args.{plugin_name}"
        )
        plugins.append((spec.factory(config, context), weight))
    return Policy(name, tuple(plugins))
