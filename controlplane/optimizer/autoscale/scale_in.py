"""Which replicas to drain when a service shrinks: consolidate first, lose least work.

Order: a replica whose removal frees its whole node, then one that frees its GPU(s) (an idle
process holds a GPU at 121-127 W against 80 W with none, docs/gpu-model.md section 9), then the
fewest requests in flight, then a replica still starting over a ready one (it serves nothing
yet), then the newest; the name breaks ties so the choice is deterministic.
"""

from __future__ import annotations

from controlplane.optimizer.autoscale.types import ReplicaView


def _key(replica: ReplicaView) -> tuple[bool, bool, int, bool, float, str]:
    return (
        not replica.frees_node,
        not replica.frees_gpu,
        replica.in_flight,
        replica.state != "starting",
        -replica.since_unix,
        replica.name,
    )


def pick_removals(replicas: tuple[ReplicaView, ...], count: int) -> tuple[str, ...]:
    """The names of `count` replicas to drain (draining ones are already leaving)."""
    if count <= 0:
        return ()
    live = [r for r in replicas if r.state != "draining"]
    live.sort(key=_key)
    return tuple(r.name for r in live[:count])
