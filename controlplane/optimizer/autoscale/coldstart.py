"""How long a replica of this service takes from launch to ready, learned from what it does.

A replica seen "starting" in one call and "ready" in a later one took
ready.since_unix - starting.since_unix to load. The planning figure is the mean plus twice the
mean absolute deviation (EWMA), so a service whose loads vary is planned for its slow ones;
a replica still starting for longer than that stretches it at once.
"""

from __future__ import annotations

from controlplane.optimizer.autoscale.config import AutoscaleConfig
from controlplane.optimizer.autoscale.types import ReplicaView

_DEVIATIONS = 2.0  # mean + 2 x mean absolute deviation: about the 90th percentile


class ColdStartLearner:
    __slots__ = ("_starting", "deviation_s", "mean_s", "observed")

    def __init__(self, prior_s: float) -> None:
        self.mean_s = prior_s
        self.deviation_s = 0.0
        self.observed = 0
        self._starting: dict[str, float] = {}  # replica name -> launch time, while starting

    def observe(self, replicas: tuple[ReplicaView, ...], config: AutoscaleConfig) -> int:
        """Notes the replicas' states; learns from each starting -> ready. Returns how many are
        starting now."""
        starting = self._starting
        count = 0
        for replica in replicas:
            state = replica.state
            if state == "starting":
                count += 1
                if replica.name not in starting:
                    starting[replica.name] = replica.since_unix
            elif starting:
                launched = starting.pop(replica.name, None)
                if launched is not None and state == "ready":
                    self._learn(replica.since_unix - launched, config)
        if len(starting) > count:  # replicas that vanished while starting (crashed, removed)
            names = {r.name for r in replicas if r.state == "starting"}
            for name in [n for n in starting if n not in names]:
                del starting[name]
        return count

    def _learn(self, load_s: float, config: AutoscaleConfig) -> None:
        if not 0.0 <= load_s < 86_400.0:  # clock skew or nonsense: not a lesson
            return
        if self.observed == 0:
            self.mean_s = load_s
            self.deviation_s = 0.25 * load_s
        else:
            alpha = config.cold_start_alpha
            self.deviation_s += alpha * (abs(load_s - self.mean_s) - self.deviation_s)
            self.mean_s += alpha * (load_s - self.mean_s)
        self.observed += 1

    def estimate_s(self, now: float) -> float:
        """The load time to plan with now."""
        planned = self.mean_s + _DEVIATIONS * self.deviation_s
        for launched in self._starting.values():
            if now - launched > planned:
                planned = now - launched
        return planned
