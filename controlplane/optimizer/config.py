"""The optimizer's configuration: one frozen object, checked when it is built."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from controlplane.optimizer.errors import ConfigError
from controlplane.optimizer.policy import PolicySpec, parse_policy

MAX_CANDIDATES = 20


@dataclass(frozen=True)
class OptimizerConfig:
    """
    policy: placement policy, one of POLICY_NAMES ("default" is the best aiwo has).
    preemption: whether a pending workload that fits nowhere may evict lower-priority work.
    min_runtime_s: work placed less than this long ago is never a preemption victim.
    seed: fixes the node priority that breaks score ties, and the `random` policy's draws.
    candidates: how many ranked candidates each Placement and Explanation carries.
    isolate_latency: a replica of a service (latency work) sharing a GPU goes to an idle GPU
        first, then to one no other replica uses (free share next to batch work, else by
        preempting batch work there, even while a share next to another replica is free),
        and shares a GPU with another replica only as a last resort, with the fewest
        (optimize.py). Why preemption before sharing: the runtime guard can relieve a
        replica from batch work (throttle, cap, migrate), not from another replica at the
        same priority. Measured against sharing first on `aiwo-bench slo` (docs/placement.md,
        "Latency tiers"): higher worst-seed attainment (99.835 against 99.303 %, 4 services,
        seeds 0-4), for 0.25-4 points of same-work energy and up to 2.8 points of batch kept.
        Off: the policy's choice, preempting only where nothing is free.
    plugin_args: per score plugin, its parameters, e.g. {"fgd": {"coverage": 0.9}}.
    """

    policy: str = "default"
    preemption: bool = True
    min_runtime_s: float = 60.0
    seed: int = 0
    candidates: int = 3
    isolate_latency: bool = True
    plugin_args: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    policy_spec: PolicySpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.policy, str):
            raise ConfigError("policy", f"expected a policy name, got {self.policy!r}")
        if not isinstance(self.preemption, bool):
            raise ConfigError("preemption", f"expected true or false, got {self.preemption!r}")
        if (
            isinstance(self.min_runtime_s, bool)
            or not isinstance(self.min_runtime_s, int | float)
            or not math.isfinite(self.min_runtime_s)
            or self.min_runtime_s < 0
        ):
            raise ConfigError("min_runtime_s", f"expected seconds >= 0, got {self.min_runtime_s!r}")
        if not isinstance(self.isolate_latency, bool):
            raise ConfigError(
                "isolate_latency", f"expected true or false, got {self.isolate_latency!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError("seed", f"expected an integer, got {self.seed!r}")
        if (
            isinstance(self.candidates, bool)
            or not isinstance(self.candidates, int)
            or not 0 <= self.candidates <= MAX_CANDIDATES
        ):
            raise ConfigError(
                "candidates", f"expected 0..{MAX_CANDIDATES}, got {self.candidates!r}"
            )
        if not isinstance(self.plugin_args, Mapping) or not all(
            isinstance(v, Mapping) for v in self.plugin_args.values()
        ):
            raise ConfigError("plugin_args", "expected a mapping of plugin name to parameters")
        # Checked here, once: optimize() builds its policy from the parsed spec.
        object.__setattr__(self, "policy_spec", parse_policy(self.policy, self.plugin_args))
        # Read-only from here on, like the rest of the object.
        frozen = {k: MappingProxyType(dict(v)) for k, v in self.plugin_args.items()}
        object.__setattr__(self, "plugin_args", MappingProxyType(frozen))
