"""How long a signal-throttled workload may run in each period: a small feedback controller.

Open-loop duty cycling (run ``fraction × period``, stop for the rest) limits *wall time*, not
CPU time: a process competing for a busy core gets less than its fraction, and one with four
busy threads gets four times as much. The controller below closes the loop on the CPU time the
workload actually used (from /proc), so that the limit means what a cgroup quota means.

Pure: no clocks, no signals; the signal throttler feeds it measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

# Smoothing of the CPU-per-running-second estimate. /proc reports CPU time in 10 ms ticks, so a
# single 30 ms window is a noisy sample; 0.2 averages over about five periods.
_RATE_SMOOTHING = 0.2
# Below this estimated rate the workload is treated as idle: it may run the whole period.
_MIN_RATE = 0.05
# Run windows shorter than this are skipped (the workload stays stopped for the period); a
# SIGCONT/SIGSTOP pair that close together buys nothing but scheduler noise.
MIN_RUN_S = 0.001


@dataclass
class DutyController:
    fraction: float  # of one core, 0 < fraction < 1
    period_s: float
    # CPU-seconds the workload is owed (+) or has overdrawn (-); bounded so an idle stretch does
    # not bank a long burst, and a burst is paid back within a couple of periods.
    debt_s: float = 0.0
    # CPU-seconds used per second of run window: 1.0 for one busy thread on a free core, less
    # when the core is contended, more for several busy threads.
    rate: float = 1.0

    @property
    def debt_cap_s(self) -> float:
        return self.fraction * self.period_s

    def next_run_s(self) -> float:
        """Run time for the coming period: what is owed, at the observed rate."""
        owed_s = self.fraction * self.period_s + self.debt_s
        run_s = owed_s / max(self.rate, _MIN_RATE)
        if run_s < MIN_RUN_S:
            return 0.0
        return min(run_s, self.period_s)

    def observe(self, used_s: float, run_s: float, elapsed_s: float) -> None:
        """Account one period: `used_s` CPU used while it ran `run_s` of `elapsed_s` wall time."""
        if run_s >= MIN_RUN_S:
            sample = max(used_s, 0.0) / run_s
            self.rate += _RATE_SMOOTHING * (sample - self.rate)
        debt = self.debt_s + self.fraction * elapsed_s - max(used_s, 0.0)
        self.debt_s = max(-self.debt_cap_s, min(self.debt_cap_s, debt))
