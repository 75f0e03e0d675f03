"""The `aiwo` policy: the controller's own autoscaler core, called as the controller calls it.

Every `period_s` the bench builds a ScaleSnapshot from what a gateway would have reported
(one TrafficSample per second since the last call) and the replicas it simulates, calls
`plan_scale`, and carries the decision out: new replicas load for the cold start, removed ones
drain. Nothing of the core is copied here; AutoscaleConfig values come from --aiwo-set.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace
from typing import Any

from bench.autoscale.demand import DemandError
from bench.autoscale.policies import Context, Sizing
from bench.autoscale.pool import Decision, Pool

SERVICE_KEY = "default/bench"
# The simulated clock's epoch: 2026-01-01 00:00 UTC, so days and weeks fall on real boundaries.
EPOCH_UNIX = 1_767_225_600.0


def _core() -> Any:
    try:
        from controlplane.optimizer import autoscale  # type: ignore[attr-defined,unused-ignore]
    except ImportError as e:
        raise DemandError(
            "policy aiwo needs controlplane.optimizer.autoscale (the autoscaler core), "
            f"which this checkout lacks: {e}"
        ) from None
    return autoscale


def config_with(overrides: tuple[str, ...]) -> Any:
    """AutoscaleConfig with FIELD=VALUE overrides, each parsed as its field's type."""
    core = _core()
    base = core.AutoscaleConfig()
    kinds = {f.name: f.type for f in fields(base)}
    changes: dict[str, object] = {}
    for item in overrides:
        name, sep, text = item.partition("=")
        if not sep or name not in kinds:
            raise DemandError(
                f"--aiwo-set: expected FIELD=VALUE with an AutoscaleConfig field, got {item!r}"
            )
        try:
            if kinds[name] in ("bool", bool):
                if text.lower() not in ("true", "false"):
                    raise ValueError(text)
                changes[name] = text.lower() == "true"
            else:
                changes[name] = float(text)
        except ValueError:
            raise DemandError(f"--aiwo-set {name}: not a {kinds[name]}: {text!r}") from None
    try:
        return replace(base, **changes)
    except ValueError as e:
        raise DemandError(f"--aiwo-set: {e}") from None


class Aiwo:
    name, instant = "aiwo", False

    def __init__(
        self, sizing: Sizing, period_s: int, config: Any, start_day: int, energy: Any = None
    ) -> None:
        self.core = _core()
        self.energy = energy  # bench.autoscale.energy.EnergyPolicy: the replicas' clock setting
        self.period_s = period_s
        self.config = config
        self.memory = self.core.AutoscaleMemory()
        self.epoch = EPOCH_UNIX + 86_400.0 * start_day
        self.initial_n = sizing.static_replicas
        self.last_t = 0
        self.last_reason = ""

    def initial(self) -> int:
        return self.initial_n

    def decide(self, t: int, ctx: Context, pool: Pool) -> Decision:
        c = self.core
        obs = ctx.observed
        samples = tuple(
            c.TrafficSample(
                time_unix=self.epoch + s + 1.0,
                interval_s=1.0,
                arrivals=round(obs.arrivals[s]),
                completed=round(obs.completed[s]),
                errors=round(obs.errors[s]),
                in_flight=round(obs.in_flight[s]),
                queued=0,  # every policy keeps at least one replica ready
                ttft_p99_ms=_finite(obs.ttft_p99_ms[s]),
                chunk_gap_p99_ms=_finite(obs.tpot_ms[s]),
                latency_p99_ms=None,
            )
            for s in range(self.last_t, t)
        )
        self.last_t = t
        ready = max(1, len(pool.ready))
        per_ready = round(obs.in_flight[t - 1] / ready) if t else 0
        now = self.epoch + t
        # One replica per GPU: removing any of them frees its GPU.
        views = [(r, per_ready) for r in pool.ready] + [(r, 0) for r in pool.starting]
        views += [(r, per_ready) for r in pool.draining]
        replicas = tuple(
            c.ReplicaView(r.name, r.state, self.epoch + r.since_s, n, frees_gpu=True)
            for r, n in views
        )
        view = c.ServiceView(
            key=SERVICE_KEY,
            min_replicas=1,
            max_replicas=ctx.max_replicas,
            pinned=None,
            targets=c.ServiceTargets(ttft_ms=ctx.targets.ttft_ms, tpot_ms=ctx.targets.tpot_ms),
            replicas=replicas,
            traffic=samples,
            room=max(0, ctx.max_replicas - pool.held),
        )
        plan = c.plan_scale(c.ScaleSnapshot((view,)), self.memory, now, self.config)
        d = plan.decisions[0]
        self.last_reason = d.reason
        setting = None
        if self.energy is not None:
            # What the core learned one replica carries: the clock must not outgrow its
            # concurrency nor leave less burst headroom than a default replica at its rate.
            m = self.memory.services[SERVICE_KEY]
            limits = (m.concurrency_limit.value, m.rate_limit.value)
            setting = self.energy.decide(t, ctx, pool, now, *limits)
        return Decision(int(d.desired), tuple(d.remove), d.reason, setting)


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
