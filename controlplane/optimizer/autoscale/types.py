"""The autoscaler core's input and output: frozen values, no wire types.

The controller builds a `ScaleSnapshot` about once a second from the gateway's per-second
traffic reports, the replicas it knows and the free capacity the placement core computes;
`aiwo bench autoscale` builds one from its simulated replicas. Both call the same
`plan_scale(snapshot, memory, now, config)` and get a `ScalePlan` back.

Units are in the names: _unix seconds since the epoch, _s seconds, _ms milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

ReplicaState = Literal["starting", "ready", "draining"]


@dataclass(frozen=True, slots=True)
class TrafficSample:
    """One interval of one service, as the gateway reports it (summed over its replicas)."""

    time_unix: float  # end of the interval
    interval_s: float  # normally 1.0
    arrivals: int
    completed: int
    errors: int
    in_flight: int  # forwarded, unanswered, at the end of the interval
    queued: int  # held for want of a ready replica
    ttft_p99_ms: float | None
    chunk_gap_p99_ms: float | None  # gaps between streamed chunks: a TPOT proxy
    latency_p99_ms: float | None


@dataclass(frozen=True, slots=True)
class ServiceTargets:
    """The service's SLO hints; None = no target on that measure. All None = no SLO."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    p99_ms: float | None = None

    @property
    def any(self) -> bool:
        return self.ttft_ms is not None or self.tpot_ms is not None or self.p99_ms is not None


@dataclass(frozen=True, slots=True)
class ReplicaView:
    """One replica. `since_unix`: when it entered `state` (for "starting": its launch)."""

    name: str
    state: ReplicaState
    since_unix: float
    in_flight: int
    frees_gpu: bool = False  # removing it leaves its GPU(s) with no other work
    frees_node: bool = False  # ... and its node with no work at all


@dataclass(frozen=True, slots=True)
class ServiceView:
    """One service as the caller sees it now.

    traffic: the samples new since the previous call, oldest first (may be empty).
    room: how many more replicas fit on free capacity now (the caller computes it).
    room_by_preemption: how many more would fit after preempting or migrating lower-priority
        batch work.
    """

    key: str  # "namespace/name"
    min_replicas: int
    max_replicas: int
    pinned: int | None  # `aiwo scale --replicas N`; None = autoscaled
    targets: ServiceTargets
    replicas: tuple[ReplicaView, ...]
    traffic: tuple[TrafficSample, ...]
    room: int
    room_by_preemption: int = 0


@dataclass(frozen=True, slots=True)
class ScaleSnapshot:
    services: tuple[ServiceView, ...]


@dataclass(frozen=True, slots=True)
class ScaleDecision:
    """What one service should have, and why.

    current: ready + starting (draining replicas are on their way out and not counted).
    remove: the replicas to drain now (least work lost, frees a node or GPU first).
    needs_room: of the replicas to add, how many can start only once lower-priority work has
        been preempted or migrated.
    blocked: why `desired` falls short of what the service needs (for `aiwo explain`), else
        None.
    reason: one line with its numbers, opening with what it decided ("scale NS/NAME 2 -> 4:",
        "hold NS/NAME at 3:"), for `aiwo explain` and logs; why: the same without that opening
        (the leader's event and ScaleRecord carry the counts as fields of their own);
        fields: the numbers behind it (for the event).
    """

    service: str
    current: int
    desired: int
    remove: tuple[str, ...]
    needs_room: int
    blocked: str | None
    reason: str
    fields: Mapping[str, str]
    why: str = ""

    @property
    def changed(self) -> bool:
        return self.desired != self.current


@dataclass(frozen=True, slots=True)
class ScalePlan:
    decisions: tuple[ScaleDecision, ...]  # one per service, changed or not
