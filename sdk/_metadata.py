"""The metadata keys the controller, its agents and the SDK agree on, in one place.

- `aiwo-leader` (trailing): a refusing controller names the leader; go there.
- `aiwo-electing` (trailing): no controller leads yet (an election is under way, or etcd has
  lost quorum). Brief: ask again within a second rather than back off further.
- `aiwo-retry-after-ms` (trailing): a refusal that paces (rate limit, stream admission) says
  when to come back; sooner is refused again.
- `aiwo-accepted` (initial): the leader accepted a stream (an agent's Connect, an app's
  Attach). Only then is what the client writes on it sent; a refusal is trailers-only,
  without it (an empty initial metadata would look the same as a refusal's).
"""

from __future__ import annotations

from collections.abc import Iterable

LEADER_METADATA_KEY = "aiwo-leader"
ELECTING_METADATA_KEY = "aiwo-electing"
ACCEPTED_METADATA_KEY = "aiwo-accepted"
RETRY_AFTER_METADATA_KEY = "aiwo-retry-after-ms"
ELECTION_RETRY_S = 1.0  # after aiwo-electing: ask again within this long (before jitter)

Metadata = Iterable[tuple[str, object]]  # gRPC metadata, or a dict's items()


def electing(trailers: Metadata | None) -> bool:
    """Whether a refusal says that no controller leads right now."""
    return any(key == ELECTING_METADATA_KEY for key, _ in trailers or ())


def accepted(initial: Metadata | None) -> bool:
    """Whether a stream's initial metadata says the controller accepted it."""
    return any(key == ACCEPTED_METADATA_KEY for key, _ in initial or ())


def retry_after_s(trailers: Metadata | None) -> float | None:
    """The seconds a pacing refusal asked the caller to wait, if it said."""
    for key, value in trailers or ():
        if key == RETRY_AFTER_METADATA_KEY:
            try:
                return max(float(str(value)) / 1000.0, 0.0)
            except ValueError:
                return None
    return None
