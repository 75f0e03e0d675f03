"""Sliding windows over per-interval samples, O(1) amortised per sample (no numpy: a call
sees one sample, and numpy's per-call overhead is larger than the work)."""

from __future__ import annotations

from collections import deque


class DemandWindow:
    """Arrivals and requests in flight over the last `window_s` seconds.

    rate_rps: arrivals over the window divided by the time the service has been watched within
    it (the window once the service is older than it), so a gap in reports reads as no traffic
    rather than as the old rate; a sample longer than the window counts its whole interval.
    concurrency: mean of in flight + held over the samples.
    """

    __slots__ = ("_arrivals", "_concurrency", "_covered_s", "_first_unix", "_samples", "window_s")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float, int, int]] = deque()
        self._covered_s = 0.0
        self._arrivals = 0
        self._concurrency = 0
        self._first_unix: float | None = None

    def add(self, end_unix: float, interval_s: float, arrivals: int, concurrency: int) -> None:
        if self._first_unix is None:
            self._first_unix = end_unix - interval_s
        self._samples.append((end_unix, interval_s, arrivals, concurrency))
        self._covered_s += interval_s
        self._arrivals += arrivals
        self._concurrency += concurrency

    def _expire(self, now: float) -> None:
        samples = self._samples
        horizon = now - self.window_s
        while samples and samples[0][0] <= horizon:
            _, interval_s, arrivals, concurrency = samples.popleft()
            self._covered_s -= interval_s
            self._arrivals -= arrivals
            self._concurrency -= concurrency
        if not samples:
            self._covered_s = 0.0  # no float drift survives an empty window

    def read(self, now: float) -> tuple[float, float]:
        """(rate_rps, concurrency) at `now`."""
        self._expire(now)
        if not self._samples or self._first_unix is None:
            return 0.0, 0.0
        watched_s = max(min(self.window_s, now - self._first_unix), self._covered_s)
        rate = self._arrivals / watched_s if watched_s > 0 else 0.0
        return rate, self._concurrency / len(self._samples)


class SlidingMax:
    """The largest value pushed within the last `window_s` seconds (a monotonic deque)."""

    __slots__ = ("_items", "window_s")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._items: deque[tuple[float, int]] = deque()

    def push(self, now: float, value: int) -> None:
        items = self._items
        while items and items[-1][1] <= value:
            items.pop()
        items.append((now, value))
        horizon = now - self.window_s
        while items[0][0] < horizon:
            items.popleft()

    def max(self) -> int:
        return self._items[0][1] if self._items else 0
