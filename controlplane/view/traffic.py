"""What the gateways report, kept in memory only (never in etcd): per-service rolling windows
of per-second samples for the autoscaler, and per-replica in-flight counts for draining.

Several gateways may report for one service: each report becomes its own sample, tagged
with the gateway, so nothing is averaged away; the autoscaler sums what it needs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from sdk.pb.aiwo.v1 import gateway_pb2

SAMPLES_KEPT = 1200  # per service: 10 minutes of one report a second from two gateways
GATEWAY_SILENT_S = 15.0  # a gateway that has not reported for this long routes nothing
MAX_GATEWAYS = 64


@dataclass(frozen=True, slots=True)
class ServiceSample:
    """One gateway's report for one service over one interval."""

    seq: int  # increasing per store: "new since the last call" is seq > cursor
    gateway: str
    received_unix: float  # the controller's clock: reports are ordered by it
    time_unix: float  # the gateway's clock: end of the interval
    interval_s: float
    arrivals: int
    completed: int
    errors: int
    rejected: int
    in_flight: int
    queued: int
    ttft_p99_ms: float | None  # None: nothing measured in the interval
    chunk_gap_p99_ms: float | None
    latency_p99_ms: float | None


DRAINED_KEPT_S = 3600.0  # how long a gateway's "drained" word about a replica is kept


@dataclass
class _Gateway:
    last_unix: float = 0.0
    interval_s: float = 1.0
    # replica workload key ("namespace/name") -> in flight at the end of the last report
    in_flight: dict[str, int] = field(default_factory=dict)
    # replica key -> when this gateway reported it draining with nothing in flight
    drained: dict[str, float] = field(default_factory=dict)


class TrafficStore:
    def __init__(self, samples_kept: int = SAMPLES_KEPT) -> None:
        self._samples: dict[str, deque[ServiceSample]] = {}
        self._gateways: dict[str, _Gateway] = {}
        self._samples_kept = samples_kept
        self._seq = 0
        self.listening_since_unix = 0.0  # when this controller began to take reports

    def start_listening(self, now: float) -> None:
        """A new leader: what earlier reports said is stale, and gateways need a moment to
        find this controller before their silence means anything."""
        self._gateways.clear()
        self.listening_since_unix = now

    def add(
        self, report: gateway_pb2.TrafficReport, received_unix: float, known: set[str]
    ) -> list[str]:
        """Record a validated report; services not in `known` are ignored (the gateway may
        lag behind a deletion). Returns the services with requests held for lack of a
        ready replica (scale from zero: the caller wakes the autoscaler at once)."""
        gateway = self._gateways.get(report.gateway)
        if gateway is None:
            if len(self._gateways) >= MAX_GATEWAYS:
                self._expire(received_unix)
            gateway = self._gateways.setdefault(report.gateway, _Gateway())
        gateway.last_unix = received_unix
        gateway.interval_s = report.interval_s
        gateway.in_flight = {}
        if len(gateway.drained) > 4096:  # bounded: old words about long-gone replicas go
            gateway.drained = {
                k: t for k, t in gateway.drained.items() if received_unix - t < DRAINED_KEPT_S
            }
        waiting = []
        for traffic in report.services:
            key = f"{traffic.namespace}/{traffic.name}"
            if key not in known:
                continue
            for replica in traffic.replicas:
                rkey = f"{traffic.namespace}/{replica.replica}"
                gateway.in_flight[rkey] = replica.in_flight
                if replica.draining and replica.in_flight == 0:
                    gateway.drained[rkey] = received_unix
            self._seq += 1
            sample = ServiceSample(
                seq=self._seq,
                gateway=report.gateway,
                received_unix=received_unix,
                time_unix=report.time_unix,
                interval_s=report.interval_s,
                arrivals=traffic.arrivals,
                completed=traffic.completed,
                errors=traffic.errors,
                rejected=traffic.rejected,
                in_flight=traffic.in_flight,
                queued=traffic.queued,
                ttft_p99_ms=_p99(traffic.ttft),
                chunk_gap_p99_ms=_p99(traffic.chunk_gap),
                latency_p99_ms=_p99(traffic.latency),
            )
            window = self._samples.setdefault(key, deque(maxlen=self._samples_kept))
            window.append(sample)
            if traffic.queued > 0:
                waiting.append(key)
        return waiting

    def samples_after(self, key: str, cursor: int) -> list[ServiceSample]:
        window = self._samples.get(key)
        if not window:
            return []
        return [s for s in window if s.seq > cursor]

    def recent(self, key: str, now: float, window_s: float = 10.0) -> list[ServiceSample]:
        window = self._samples.get(key)
        if not window:
            return []
        return [s for s in window if s.received_unix >= now - window_s]

    def drained(self, replica: str, since_unix: float, now: float) -> bool:
        """True when no gateway still reporting can send `replica` another request or has
        one in flight on it: each has reported it `draining` with `in_flight` 0 since the
        drain began (the gateway's own signal that it has the replica out of its endpoints;
        a bare 0 could predate the removal, the two streams being unordered), or no longer
        lists it in a report whose whole interval began after the drain did (it drained it
        and forgot it, or never had it). With no gateway reporting, only once the drain
        (and this controller's listening) has lasted GATEWAY_SILENT_S: a gateway that is
        just connecting must not lose requests to an early stop."""
        live = [g for g in self._gateways.values() if now - g.last_unix <= GATEWAY_SILENT_S]
        if not live:
            return now - max(since_unix, self.listening_since_unix) >= GATEWAY_SILENT_S
        for gateway in live:
            if gateway.drained.get(replica, 0.0) >= since_unix:
                continue
            if replica in gateway.in_flight:
                return False  # still listed: routable, or draining with requests
            if gateway.last_unix - gateway.interval_s < since_unix:
                return False  # no report yet that covers only time after the drain began
        return True

    def replica_in_flight(self, replica: str, now: float) -> int:
        """Requests in flight on `replica` over every gateway still reporting."""
        return sum(
            g.in_flight.get(replica, 0)
            for g in self._gateways.values()
            if now - g.last_unix <= GATEWAY_SILENT_S
        )

    def gateways(self, now: float) -> list[str]:
        return sorted(n for n, g in self._gateways.items() if now - g.last_unix <= GATEWAY_SILENT_S)

    def forget(self, key: str) -> None:
        self._samples.pop(key, None)

    def _expire(self, now: float) -> None:
        for name in [n for n, g in self._gateways.items() if now - g.last_unix > GATEWAY_SILENT_S]:
            del self._gateways[name]


def _p99(summary: gateway_pb2.LatencySummary) -> float | None:
    return summary.p99_ms if summary.count else None
