"""A service's replicas in the simulator: starting (loading), ready, draining; named, timed."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from gpumodel.serving import ReplicaSetting


@dataclass(slots=True)
class Replica:
    name: str
    state: str  # "starting" | "ready" | "draining"
    since_s: float  # when it entered the state (starting: its launch)
    until_s: float  # starting: ready at; draining: gone at; ready: unused


@dataclass(frozen=True, slots=True)
class Decision:
    desired: int  # ready + starting wanted
    remove: tuple[str, ...] = ()  # names to drain first (aiwo's choice); others: newest first
    reason: str = ""
    # The clock/cap setting of every replica of the service from now on; None: unchanged
    # (the baselines never set one: they run at the GPUs' defaults).
    setting: ReplicaSetting | None = None


class Pool:
    def __init__(self, initial_ready: int, cold_start_s: float) -> None:
        self.cold_start_s = cold_start_s
        self._next = 0
        self.starting: deque[Replica] = deque()  # ordered by ready time
        self.ready: list[Replica] = []
        self.draining: list[Replica] = []
        self.cold_starts = 0
        self.scale_events = 0
        self.load_times_s: list[float] = []
        for _ in range(initial_ready):
            self.ready.append(Replica(self._name(), "ready", 0.0, 0.0))

    def _name(self) -> str:
        self._next += 1
        return f"r{self._next}"

    @property
    def current(self) -> int:
        return len(self.ready) + len(self.starting)

    @property
    def held(self) -> int:
        return len(self.ready) + len(self.starting) + len(self.draining)

    def advance(self, now_s: float) -> None:
        while self.starting and self.starting[0].until_s <= now_s:
            r = self.starting.popleft()
            r.state, r.since_s = "ready", now_s
            self.ready.append(r)
        if self.draining:
            self.draining = [r for r in self.draining if r.until_s > now_s]

    def apply(self, d: Decision, now_s: float, drain_s: float, instant: bool = False) -> None:
        """Start or remove replicas to reach d.desired (at least one stays)."""
        want = max(1, d.desired)
        if want == self.current:
            return
        self.scale_events += 1
        if want > self.current:
            for _ in range(want - self.current):
                if instant:
                    self.ready.append(Replica(self._name(), "ready", now_s, now_s))
                else:
                    ready_at = now_s + self.cold_start_s
                    self.starting.append(Replica(self._name(), "starting", now_s, ready_at))
                    self.cold_starts += 1
            return
        k = self.current - want
        while k and self.starting:  # cancel the newest load first: it has done no work
            self.starting.pop()
            k -= 1
        named = {n for n in d.remove}
        order = [r for r in self.ready if r.name in named] + [
            r for r in reversed(self.ready) if r.name not in named
        ]
        for r in order[:k]:
            self.ready.remove(r)
            if not instant:
                r.state, r.since_s, r.until_s = "draining", now_s, now_s + drain_s
                self.draining.append(r)
