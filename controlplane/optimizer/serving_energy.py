"""The energy setting of a service's replicas: the SM clock lock that serves the load for the
least energy per request while the SLO holds with headroom (DynamoLLM, arXiv 2408.00741, sets
instance count and GPU frequency together; this is the frequency half, the autoscaler core the
count).

Pure: gpumodel and the standard library only. Per call, for each candidate setting, the replica
model at that setting (gpumodel/serving.py `ReplicaModel.at`, curves from published data)
predicts, at the current load per ready replica:

- prefill busy fraction f = rate x mean prompt / prefill rate, and its utilisation
  rho = f / f_max (chunked prefill leaves f_max of each step to prompts);
- mean TPOT from Little's law, TPOT = s0 / (1 - f - s1 x rate x decode / 1000) (as
  `ReplicaModel.max_rate_per_s`), and the decode batch B = rate x decode x TPOT;
- TTFT p99 = the p99 prompt's own prefill + one step + the p99 wait of an M/M/1 prefill queue,
  X ln(100 rho) / (1 - rho) with X the mean prompt's prefill time, times `burst_factor`;
- power = the replica's power at that prefill share, decode share and batch, and energy per
  request = power / rate.

The choice is the lowest energy per request among settings whose predictions at the recent
peak load fit within `headroom` x the targets with rho <= `max_prefill_utilization`, and which
leave the autoscaler's sizing alone: no more in flight than its learned concurrency per
replica, and no busier in prefill than a default replica at its learned rate (the autoscaler
learned that rate, bursts included, at default clocks; a replica slowed past it meets the next
burst short, breaks the SLO, and the autoscaler answers with replicas whose idle power costs
more than the clock saves). Hysteresis: a setting that no longer fits, or a measured p99 over
the headroom, moves to the best fitting setting at once (a clock change takes milliseconds);
a move to save energy needs the new setting to fit the tighter `down_band` limits, to save
`min_saving`, and to have been the choice for `hold_s`. No load: default clocks.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field, replace

from gpumodel.serving import DEFAULT_SETTING, ReplicaModel, ReplicaSetting


def _default_candidates() -> tuple[ReplicaSetting, ...]:
    # SM clock locks from the max down to the lowest published (serving.LOWEST_CLOCK_RATIO) in
    # 10 % steps (energy is smooth in the clock; finer steps cost time every period). Power
    # caps are not candidates by default: the model makes a cap and a lock of
    # the same prefill speed cost the same prefill energy (perf.py: a lock is the cap that
    # gives its speed), while only a lock also lowers decode's clock at every batch.
    return tuple(ReplicaSetting(sm_clock_ratio=r / 10.0) for r in range(10, 4, -1))


@dataclass(frozen=True, slots=True)
class EnergyTargets:
    ttft_ms: float | None  # TTFT p99 target; None = no TTFT target
    tpot_ms: float | None  # mean TPOT target; None = no TPOT target


@dataclass(frozen=True, slots=True)
class ReplicaLoad:
    """The load on one ready replica now (the service's load over its ready replicas)."""

    arrival_rps: float  # requests/s per ready replica
    mean_prompt_tokens: float
    p99_prompt_tokens: float
    mean_decode_tokens: float  # output tokens after the first, per request (all requests)
    observed_ttft_p99_ms: float | None = None  # as measured at the current setting
    observed_tpot_ms: float | None = None
    # The load a setting must hold within the limits (e.g. the busiest recent 10 s per ready
    # replica): bursts come faster than a replica starts, so a clock that only fits the mean
    # rate meets the next burst short. None: the arrival rate.
    peak_arrival_rps: float | None = None
    # Requests in flight per replica the autoscaler sizes for (its learned concurrency): a
    # slower clock keeps requests longer, and more in flight than this would make the
    # autoscaler add replicas, whose idle power outweighs the clock's saving. None: no bound.
    in_flight_limit: float | None = None
    # Requests/s per replica the autoscaler has learned a replica carries within the SLO, at
    # default clocks. Its bursts taught it that figure, so a setting must be no busier at the
    # current load than a default replica at that rate: the same burst headroom the
    # autoscaler relies on. None: no such bound.
    learned_rps: float | None = None

    def at_peak(self) -> ReplicaLoad:
        peak = self.peak_arrival_rps
        if peak is None or peak <= self.arrival_rps:
            return self
        return replace(self, arrival_rps=peak, peak_arrival_rps=None)


@dataclass(frozen=True, slots=True)
class EnergyConfig:
    headroom: float = 0.5  # predicted p99s within this share of each target
    max_prefill_utilization: float = 0.7  # rho at the setting: room for bursts
    burst_factor: float = 1.0  # the M/M/1 wait multiplier ((1 + cv^2) / 2 for known burstiness)
    down_band: float = 0.95  # a saving move must fit these shares of the limits
    min_saving: float = 0.01  # ... and save this share of the energy per request
    hold_s: float = 60.0  # ... and have been the choice this long
    candidates: tuple[ReplicaSetting, ...] = field(default_factory=_default_candidates)

    def __post_init__(self) -> None:
        for name, value, lo, hi in (
            ("headroom", self.headroom, 0.0, 1.0),
            ("max_prefill_utilization", self.max_prefill_utilization, 0.0, 1.0),
            ("down_band", self.down_band, 0.0, 1.0),
            ("min_saving", self.min_saving, 0.0, 1.0),
        ):
            if not (math.isfinite(value) and lo < value <= hi):
                raise ValueError(f"{name} {value} outside ({lo}, {hi}]")
        if not (math.isfinite(self.burst_factor) and self.burst_factor >= 1.0):
            raise ValueError(f"burst_factor {self.burst_factor} must be >= 1")
        if not (math.isfinite(self.hold_s) and self.hold_s >= 0.0):
            raise ValueError(f"hold_s {self.hold_s} must be >= 0")
        if not self.candidates:
            raise ValueError("candidates must not be empty")


@dataclass(frozen=True, slots=True)
class Prediction:
    setting: ReplicaSetting
    prefill_utilization: float  # rho
    ttft_p99_ms: float
    tpot_ms: float
    batch: float
    in_flight: float  # requests per replica: waiting, prefilling and decoding (Little's law)
    power_w: float
    energy_per_request_j: float


@dataclass(frozen=True, slots=True)
class SettingChoice:
    setting: ReplicaSetting
    changed: bool
    reason: str
    predicted: Prediction | None  # of the chosen setting; None without load


@dataclass
class EnergyMemory:
    """What the chooser keeps between calls for one service."""

    setting: ReplicaSetting = DEFAULT_SETTING
    pending: ReplicaSetting | None = None  # a saving move waiting out hold_s
    pending_since_unix: float = 0.0
    changes: int = 0


class ServingEnergy:
    """The chooser for one replica model: the candidates' models are built once."""

    def __init__(self, model: ReplicaModel, config: EnergyConfig | None = None) -> None:
        self.config = config or EnergyConfig()
        self.model = model
        settings = list(self.config.candidates)
        if DEFAULT_SETTING not in settings:
            settings.insert(0, DEFAULT_SETTING)
        self.models = {s: model.at(s) for s in settings}
        self._curves = {s: _curve(m) for s, m in self.models.items()}
        self._order = sorted(self.models, key=lambda s: -self.models[s].prefill_tokens_per_s)

    def predict(self, setting: ReplicaSetting, load: ReplicaLoad) -> Prediction:
        m = self.models.get(setting) or self.model.at(setting)
        rate = max(0.0, load.arrival_rps)
        r_tok = m.prefill_tokens_per_s
        s0, s1 = m.decode_step_base_ms, m.decode_step_per_seq_ms
        f = rate * load.mean_prompt_tokens / r_tok
        free = 1.0 - f - s1 * rate * load.mean_decode_tokens / 1000.0
        tpot_ms = s0 / free if free > 0.0 else math.inf
        batch = min(float(m.max_batch), rate * load.mean_decode_tokens * tpot_ms / 1000.0)
        if not math.isfinite(tpot_ms):
            batch = float(m.max_batch)
        step_ms = s0 + s1 * batch
        chunk_ms = 1000.0 * m.prefill_chunk_tokens / r_tok
        f_max = chunk_ms / (step_ms + chunk_ms)
        rho = f / f_max
        own_s = load.p99_prompt_tokens / (r_tok * f_max)
        mean_s = load.mean_prompt_tokens / (r_tok * f_max)
        if rho >= 1.0 or not math.isfinite(tpot_ms):
            ttft_ms = in_flight = math.inf
        else:
            wait_s = mean_s * max(0.0, math.log(100.0 * rho)) / (1.0 - rho) if rho > 0 else 0.0
            ttft_ms = 1000.0 * (self.config.burst_factor * wait_s + own_s) + step_ms
            mean_wait_s = self.config.burst_factor * mean_s * rho / (1.0 - rho)
            in_flight = rate * (mean_wait_s + mean_s + step_ms / 1000.0) + batch
        f_c = min(1.0, f)
        d_c = min(1.0 - f_c, (1.0 - f_c) * min(1.0, batch))
        floor = m.held_idle_power_w
        decode_w = _decode_power_w(self._curves.get(setting) or _curve(m), batch)
        power = floor + f_c * (m.prefill_power_w - floor) + d_c * (decode_w - floor)
        energy = power / rate if rate > 0.0 else math.inf
        return Prediction(setting, rho, ttft_ms, tpot_ms, batch, in_flight, power, energy)

    def _fits(self, p: Prediction, targets: EnergyTargets, band: float) -> bool:
        c = self.config
        if p.prefill_utilization > c.max_prefill_utilization * band:
            return False
        if targets.ttft_ms is not None and p.ttft_p99_ms > c.headroom * band * targets.ttft_ms:
            return False
        return not (targets.tpot_ms is not None and p.tpot_ms > c.headroom * band * targets.tpot_ms)

    def _in_flight_room(self, load: ReplicaLoad, default: Prediction) -> float:
        """The in-flight a setting may reach: the autoscaler's limit, or what default clocks
        already hold when that is more (the autoscaler is then adding replicas anyway)."""
        if load.in_flight_limit is None:
            return math.inf
        return max(load.in_flight_limit, default.in_flight)

    def _observed_breach(self, load: ReplicaLoad, targets: EnergyTargets) -> str | None:
        h = self.config.headroom
        for name, seen, target in (
            ("TTFT p99", load.observed_ttft_p99_ms, targets.ttft_ms),
            ("TPOT", load.observed_tpot_ms, targets.tpot_ms),
        ):
            if seen is not None and target is not None and seen > h * target:
                return f"measured {name} {seen:.0f} ms > {h * target:.0f} ms"
        return None

    def choose(
        self, load: ReplicaLoad, targets: EnergyTargets, memory: EnergyMemory, now_unix: float
    ) -> SettingChoice:
        """The setting for the replicas now, and why; updates `memory`."""
        current = memory.setting
        if load.arrival_rps <= 0.0 or load.mean_prompt_tokens < 0.0:
            # An idle replica draws the same at any clock, and demand that resumes after a
            # quiet spell (often at full rate, on the fewest replicas) needs the full speed.
            memory.pending = None
            if current.is_default():
                return SettingChoice(current, False, "keep default: no load", None)
            memory.setting = DEFAULT_SETTING
            memory.changes += 1
            text = f"{current.label()} -> default (no load): idle power is the same at any clock"
            return SettingChoice(DEFAULT_SETTING, True, text, None)
        peak = load.at_peak()
        preds: dict[ReplicaSetting, Prediction] = {}
        at_peak: dict[ReplicaSetting, Prediction] = {}

        def pred(setting: ReplicaSetting) -> tuple[Prediction, Prediction]:
            if setting not in preds:
                preds[setting] = q = self.predict(setting, load)
                at_peak[setting] = q if peak is load else self.predict(setting, peak)
            return preds[setting], at_peak[setting]

        band = self.config.down_band
        room = self._in_flight_room(load, pred(DEFAULT_SETTING)[0])
        busy = self.config.max_prefill_utilization
        if load.learned_rps is not None and load.learned_rps > 0.0:
            learned = replace(load, arrival_rps=load.learned_rps, peak_arrival_rps=None)
            at_learned = self.predict(DEFAULT_SETTING, learned).prefill_utilization
            busy = min(busy, max(pred(DEFAULT_SETTING)[0].prefill_utilization, at_learned))
        fit: list[Prediction] = []
        fit_down: list[Prediction] = []
        # Fastest first: every prediction grows as the replica slows, so the first setting
        # that does not fit ends the search (this runs every period for every service).
        for setting in self._order:
            q, p = pred(setting)
            ok = self._fits(p, targets, 1.0) and q.in_flight <= room
            if not (ok and q.prefill_utilization <= busy):
                break
            fit.append(q)
            if (
                self._fits(p, targets, band)
                and q.in_flight <= room * band
                and q.prefill_utilization <= busy * band
            ):
                fit_down.append(q)
        best = min(fit, key=_energy_key) if fit else None
        cur, cur_peak = pred(current)
        breach = self._observed_breach(load, targets)
        if breach is not None:
            memory.pending = None
            if current.is_default():
                return SettingChoice(current, False, f"keep {current.label()}: {breach}", cur)
            to, to_peak = pred(DEFAULT_SETTING)
            return self._move(memory, to, to_peak, breach, load, targets, cur)
        if all(q.setting != current for q in fit):
            target = best if best is not None else preds[DEFAULT_SETTING]
            if target.setting == current:
                return self._keep(memory, cur_peak, cur, load, targets)
            peak_p = at_peak[target.setting]
            return self._move(memory, target, peak_p, "no longer fits", load, targets, cur)
        better = min(fit_down, key=_energy_key) if fit_down else None
        if (
            better is None
            or better.setting == current
            or better.energy_per_request_j > cur.energy_per_request_j * (1 - self.config.min_saving)
        ):
            return self._keep(memory, cur_peak, cur, load, targets)
        if memory.pending is None:
            memory.pending, memory.pending_since_unix = better.setting, now_unix
        if now_unix - memory.pending_since_unix < self.config.hold_s:
            memory.pending = better.setting
            waited = now_unix - memory.pending_since_unix
            text = _why("keep", cur_peak, cur, None, load, targets, self.config)
            hold = self.config.hold_s
            text += f"; {better.setting.label()} would save ({waited:.0f} of {hold:.0f} s)"
            return SettingChoice(current, False, text, cur)
        return self._move(memory, better, at_peak[better.setting], "saves energy", load, targets,
                          cur)  # fmt: skip

    def _keep(
        self, memory: EnergyMemory, peak: Prediction, cur: Prediction, load: ReplicaLoad,
        targets: EnergyTargets,
    ) -> SettingChoice:  # fmt: skip
        memory.pending = None
        text = _why("keep", peak, cur, None, load, targets, self.config)
        return SettingChoice(cur.setting, False, text, cur)

    def _move(
        self, memory: EnergyMemory, to: Prediction, to_peak: Prediction, cause: str,
        load: ReplicaLoad, targets: EnergyTargets, before: Prediction,
    ) -> SettingChoice:  # fmt: skip
        old = memory.setting
        memory.setting, memory.pending = to.setting, None
        memory.changes += 1
        text = f"{old.label()} -> {to.setting.label()} ({cause}): "
        text += _why("", to_peak, to, before, load, targets, self.config)
        return SettingChoice(to.setting, True, text, to)


def _curve(m: ReplicaModel) -> tuple[list[float], list[float]]:
    """The decode power points as (log2 batch, watts) lists: the scalar twin of
    ReplicaModel.decode_power_w (numpy is slow per call, and this runs every period)."""
    return [math.log2(b) for b, _ in m.decode_power_points], [p for _, p in m.decode_power_points]


def _decode_power_w(curve: tuple[list[float], list[float]], batch: float) -> float:
    xs, ys = curve
    x = math.log2(max(batch, 1.0))
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x)
    t = (x - xs[i - 1]) / (xs[i] - xs[i - 1])
    return ys[i - 1] + t * (ys[i] - ys[i - 1])


def _energy_key(p: Prediction) -> tuple[float, float]:
    # Equal energy: prefer the faster clock (more room for the next burst).
    return (round(p.energy_per_request_j, 6), -p.setting.sm_clock_ratio)


def _why(
    verb: str, peak: Prediction, p: Prediction, before: Prediction | None, load: ReplicaLoad,
    targets: EnergyTargets, config: EnergyConfig,
) -> str:  # fmt: skip
    """The numbers behind a choice: limits checked at the peak load, energy at the current."""
    h = config.headroom
    parts = [f"{verb} {p.setting.label()}: " if verb else ""]
    parts.append(f"{load.arrival_rps:.1f} req/s per replica")
    if load.peak_arrival_rps is not None and load.peak_arrival_rps > load.arrival_rps:
        parts.append(f" (peak {load.peak_arrival_rps:.1f})")
    parts.append(
        f", prefill {100 * peak.prefill_utilization:.0f} % busy"
        f" <= {100 * config.max_prefill_utilization:.0f} %"
    )
    if targets.ttft_ms is not None:
        parts.append(f", TTFT p99 {_ms(peak.ttft_p99_ms)} <= {h * targets.ttft_ms:.0f} ms")
    if targets.tpot_ms is not None:
        parts.append(f", TPOT {_ms(peak.tpot_ms)} <= {h * targets.tpot_ms:.1f} ms")
    parts.append(f"; {p.energy_per_request_j:.2f} J per request")
    if before is not None and before.setting != p.setting:
        parts.append(f" against {before.energy_per_request_j:.2f} J at {before.setting.label()}")
    return "".join(parts)


def _ms(x: float) -> str:
    return f"{x:.0f} ms" if math.isfinite(x) else "unbounded"
