"""Which replicas a scale-in drains: consolidation first, then the least work lost."""

from __future__ import annotations

import pytest

from controlplane.optimizer.autoscale import AutoscaleConfig, AutoscaleMemory
from controlplane.optimizer.autoscale.scale_in import pick_removals
from controlplane.optimizer.autoscale.types import ReplicaView

from .builders import plan_one, replica, sample, service


@pytest.mark.parametrize(
    ("replicas", "count", "expected"),
    [
        # frees a node beats frees a GPU beats least in flight
        (
            (
                replica("a", in_flight=0),
                replica("b", in_flight=5, frees_gpu=True),
                replica("c", in_flight=9, frees_gpu=True, frees_node=True),
            ),
            1,
            ("c",),
        ),
        (
            (replica("a", in_flight=0), replica("b", in_flight=5, frees_gpu=True)),
            1,
            ("b",),
        ),
        # least in flight
        (
            (replica("a", in_flight=3), replica("b", in_flight=1), replica("c", in_flight=2)),
            2,
            ("b", "c"),
        ),
        # draining replicas are already leaving; a starting one goes before an idle ready one
        (
            (
                replica("a", "draining"),
                replica("b", "ready", since=5.0),
                replica("c", "starting", since=1.0),
            ),
            1,
            ("c",),
        ),
        # ties: the newest, then the name
        ((replica("a", since=1.0), replica("b", since=2.0)), 1, ("b",)),
        ((replica("b", since=1.0), replica("a", since=1.0)), 1, ("a",)),
        ((replica("a"),), 0, ()),
    ],
)
def test_pick_removals(
    replicas: tuple[ReplicaView, ...], count: int, expected: tuple[str, ...]
) -> None:
    assert pick_removals(replicas, count) == expected


def test_scale_in_waits_out_the_stabilization_window_then_frees_a_node() -> None:
    config = AutoscaleConfig()
    memory = AutoscaleMemory()
    replicas: tuple[ReplicaView, ...] = (
        replica("r0", in_flight=2),
        replica("r1", in_flight=0),
        replica("r2", in_flight=4, frees_gpu=True, frees_node=True),
        replica("r3", in_flight=1, frees_gpu=True),
    )
    # Busy: 4 replicas at their prior capacity (1 req/s each), SLO met.
    t = 0.0
    for _ in range(120):
        t += 1.0
        d = plan_one(service(replicas, (sample(t, 4, ttft_ms=1900.0),)), memory, t, config)
    assert d.desired == 4
    quiet_from = t
    # Quiet: demand for one replica (two with the 10 % tolerance). Nothing goes within the window.
    removed: list[tuple[float, str]] = []
    while t < quiet_from + 900.0:
        t += 1.0
        d = plan_one(service(replicas, (sample(t, 1, ttft_ms=1900.0),)), memory, t, config)
        assert d.current - d.desired <= d.current // 2  # Knative's max-scale-down-rate 2
        removed += [(t, name) for name in d.remove]
        replicas = tuple(r for r in replicas if r.name not in d.remove)
    assert removed, "never scaled in"
    assert removed[0][0] - quiet_from >= config.scale_down_stabilization_s
    # The node-freeing replica, then the GPU-freeing one; the two busiest-or-not stay.
    assert [name for _, name in removed] == ["r2", "r3"]
    assert [r.name for r in replicas] == ["r0", "r1"]
    assert d.desired == d.current == 2
