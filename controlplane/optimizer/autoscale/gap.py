"""The floor through a zero-demand gap: do not shrink to the minimum when demand will resume.

A gap starts at the first sample with no arrivals and ends at the next with some. Demand that
resumes after a gap arrives at its full rate at once, on whatever replicas are left, which a
cold start cannot follow. So while a gap lasts, the replicas are planned for the stable rate
the service had when demand last flowed (`level_rps`), as long as history says it resumes:

- the gap is no longer than twice the longest gap this service has resumed from (learned;
  that figure shrinks 10 % a day, so a service that stopped having gaps stops being held), or
- the day profile is established here and expects at least a quarter of that level now, or
- the gap is no longer than `gap_flow_share` of the time demand had flowed without a gap
  before it (a service whose demand ran for hours is more likely interrupted than stopped:
  this holds the first gap of a service with no gap history, which the other two cannot;
  a short load test followed by quiet is held for seconds only);

and never past `gap_hold_s`. A gap shorter than the panic window is not a gap (the windows
carry it). Past the hold, the stabilization window scales in as for any fall in demand.
"""

from __future__ import annotations

from controlplane.optimizer.autoscale.config import AutoscaleConfig

_PROFILE_SHARE = 0.25  # the day profile expects at least this share of the level: it resumes
_DAY_DECAY = 0.9  # the longest resumed gap shrinks 10 % a day (gaps that stopped are forgotten)


class GapFloor:
    __slots__ = (
        "_day",
        "flow_start_unix",
        "flowed_s",
        "gap_start_unix",
        "level_rps",
        "longest_resumed_s",
        "resumed_unix",
    )

    def __init__(self) -> None:
        self.level_rps = 0.0  # the stable rate at the last sample with arrivals
        self.gap_start_unix = -1.0  # -1: no gap now
        self.longest_resumed_s = 0.0
        self.resumed_unix = -1e18  # when demand last resumed after a gap
        self.flow_start_unix = -1.0  # start of the current run of demand (-1: none yet)
        self.flowed_s = 0.0  # how long demand flowed before the running gap began
        self._day = -1

    def add(self, end_unix: float, interval_s: float, arrivals: int, stable_rps: float) -> None:
        if arrivals > 0:
            start = self.gap_start_unix
            if start >= 0.0:
                # Only a gap with demand before it is a resumption (not a service's first
                # request after it was created idle).
                length = end_unix - interval_s - start
                if self.level_rps > 0.0 and length > self.longest_resumed_s:
                    self.longest_resumed_s = length
                self.gap_start_unix = -1.0
                self.resumed_unix = end_unix
                self.flow_start_unix = end_unix - interval_s
            elif self.flow_start_unix < 0.0:
                self.flow_start_unix = end_unix - interval_s  # the first demand ever
            self.level_rps = stable_rps
        elif self.gap_start_unix < 0.0:
            self.gap_start_unix = end_unix - interval_s
            start = self.flow_start_unix
            self.flowed_s = self.gap_start_unix - start if start >= 0.0 else 0.0
        day = int(end_unix // 86_400.0)
        if day != self._day:
            if self._day >= 0:
                self.longest_resumed_s *= _DAY_DECAY
            self._day = day

    def gap_s(self, now: float) -> float:
        """How long the running gap has lasted (0 when demand flows)."""
        return now - self.gap_start_unix if self.gap_start_unix >= 0.0 else 0.0

    def floor_rps(self, now: float, profile_rps: float, config: AutoscaleConfig) -> float:
        """The demand to plan for at least, now (0: no floor). `profile_rps`: what the day
        profile expects now (0 when it has not established this part of the day)."""
        if self.gap_start_unix < 0.0 or config.gap_hold_s <= 0.0:
            return 0.0
        length = now - self.gap_start_unix
        if length < config.panic_window_s or length > config.gap_hold_s:
            return 0.0
        level = self.level_rps
        if (
            length <= 2.0 * self.longest_resumed_s
            or profile_rps >= _PROFILE_SHARE * level
            or length <= config.gap_flow_share * self.flowed_s
        ):
            return level
        return 0.0
