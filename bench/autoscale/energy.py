"""The aiwo policy's energy half: the replicas' clock setting from the controller's own chooser
(controlplane/optimizer/serving_energy.py), fed what the service measured up to now.

Per call: the arrival rate per ready replica (the larger of the last second's and the last
`LOAD_WINDOW_S` mean, so a burst raises the clock within a second), the mean prompt and
decode tokens of the last `MIX_WINDOW_S` (an engine's prompt/generation token counters), the
p99 prompt of the window the last second fell in (its prompt-length distribution, as an
engine's histogram gives it), the last second's measured TTFT p99 and TPOT, and the peak
load the setting must hold: the busiest `LOAD_WINDOW_S` of the last `PEAK_WINDOW_S`.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np

from bench.autoscale.demand import PROMPT_GRID, WINDOW_S, DemandError
from bench.autoscale.policies import Context
from bench.autoscale.pool import Pool
from controlplane.optimizer.serving_energy import (
    EnergyConfig,
    EnergyMemory,
    EnergyTargets,
    ReplicaLoad,
    ServingEnergy,
    SettingChoice,
)
from gpumodel.serving import ReplicaModel, ReplicaSetting

LOAD_WINDOW_S = 10
MIX_WINDOW_S = 60
# The setting must hold the busiest LOAD_WINDOW_S of the last PEAK_WINDOW_S (the core's
# scale-down stabilization window, 300 s: the bursts the replicas it keeps were kept for).
PEAK_WINDOW_S = 300
# The chooser runs every CHOOSE_EVERY_S, and, while the clock is lowered, at once when the
# last second's load per ready replica passes the peak it last planned for or a measured p99
# passes the headroom (so a burst raises the clock within a second). A call costs ~0.2-0.7 ms
# on this machine: at every simulated second it would double a 14-day run.
CHOOSE_EVERY_S = 5


class EnergyPolicy:
    def __init__(
        self,
        model: ReplicaModel,
        config: EnergyConfig | None = None,
        peak_bin_s: int = LOAD_WINDOW_S,
        peak_window_s: int = PEAK_WINDOW_S,
    ) -> None:
        self.chooser = ServingEnergy(model, config)
        self.peak_bin_s, self.peak_window_s = peak_bin_s, peak_window_s
        self.memory = EnergyMemory()
        self.last_reason = ""
        self._p99: Any = None
        self._planned_peak = 0.0  # per ready replica, at the last call

    def decide(
        self, t: int, ctx: Context, pool: Pool, now_unix: float, in_flight_limit: float | None,
        learned_rps: float | None = None,
    ) -> ReplicaSetting:  # fmt: skip
        """in_flight_limit, learned_rps: the core's learned concurrency and rate per replica."""
        obs, d = ctx.observed, ctx.demand
        ready = len(pool.ready)
        if t <= 0 or ready == 0:
            return self.memory.setting
        if self._p99 is None:
            idx = np.argmax(d.prompt_cdf >= 0.99, axis=1)
            self._p99 = PROMPT_GRID[idx]
        last = float(obs.arrivals[t - 1])
        h = self.chooser.config.headroom
        if t % CHOOSE_EVERY_S and (
            self.memory.setting.is_default()  # nothing to raise
            or (
                last / ready <= self._planned_peak
                and obs.ttft_p99_ms[t - 1] <= h * ctx.targets.ttft_ms
                and obs.tpot_ms[t - 1] <= h * ctx.targets.tpot_ms
            )
        ):
            return self.memory.setting
        lo = max(0, t - LOAD_WINDOW_S)
        rate = max(last, float(obs.arrivals[lo:t].mean()))
        plo = max(0, t - self.peak_window_s)
        c = np.cumsum(obs.arrivals[plo:t])
        w = min(self.peak_bin_s, c.size)
        sums = c[w - 1 :] - np.concatenate(([0.0], c[: c.size - w]))
        peak = max(rate, float(sums.max()) / w)
        mlo = max(0, t - MIX_WINDOW_S)
        n = float(d.arrivals[mlo:t].sum())
        if n <= 0:
            quiet = ReplicaLoad(0.0, 0.0, 0.0, 0.0)
            targets = EnergyTargets(ttft_ms=ctx.targets.ttft_ms, tpot_ms=ctx.targets.tpot_ms)
            return self._apply(self.chooser.choose(quiet, targets, self.memory, now_unix))
        load = ReplicaLoad(
            arrival_rps=rate / ready,
            mean_prompt_tokens=float(d.prompt_tokens[mlo:t].sum()) / n,
            p99_prompt_tokens=float(self._p99[(t - 1) // WINDOW_S]),
            mean_decode_tokens=float(d.decode_tokens[mlo:t].sum()) / n,
            observed_ttft_p99_ms=float(obs.ttft_p99_ms[t - 1]),
            observed_tpot_ms=float(obs.tpot_ms[t - 1]),
            peak_arrival_rps=peak / ready,
            in_flight_limit=in_flight_limit,
            learned_rps=learned_rps,
        )
        self._planned_peak = peak / ready
        targets = EnergyTargets(ttft_ms=ctx.targets.ttft_ms, tpot_ms=ctx.targets.tpot_ms)
        return self._apply(self.chooser.choose(load, targets, self.memory, now_unix))

    def _apply(self, choice: SettingChoice) -> ReplicaSetting:
        if choice.changed:
            self.last_reason = choice.reason
        return choice.setting


def energy_config_with(overrides: tuple[str, ...]) -> EnergyConfig:
    """EnergyConfig with FIELD=VALUE overrides (its float fields)."""
    base = EnergyConfig()
    names = {f.name for f in fields(base) if f.name != "candidates"}
    changes: dict[str, float] = {}
    for item in overrides:
        name, sep, text = item.partition("=")
        if not sep or name not in names:
            raise DemandError(
                f"--aiwo-energy-set: expected FIELD=VALUE with FIELD one of "
                f"{', '.join(sorted(names))}, got {item!r}"
            )
        try:
            changes[name] = float(text)
        except ValueError:
            raise DemandError(f"--aiwo-energy-set {name}: not a number: {text!r}") from None
    try:
        return replace(base, **changes)  # type: ignore[arg-type]
    except ValueError as e:
        raise DemandError(f"--aiwo-energy-set: {e}") from None
