"""How long one `plan_scale` call takes: `python -m bench.autoscale_core_speed [--services N]`.

The bench calls the core about once per simulated second for 14 days (1.2 M calls per policy
run), so a call must stay at tens of microseconds. Each service has eight ready replicas and
one new sample per call; the samples vary so every learner does its work. Prints the median and
the spread over five repeats of 100,000 calls.
"""

from __future__ import annotations

import argparse
import statistics
import time

from controlplane.optimizer.autoscale import (
    AutoscaleConfig,
    AutoscaleMemory,
    ReplicaView,
    ScaleSnapshot,
    ServiceTargets,
    ServiceView,
    TrafficSample,
    plan_scale,
)


def _snapshots(services: int, calls: int) -> list[ScaleSnapshot]:
    replicas = tuple(ReplicaView(f"r{i}", "ready", 0.0, 5) for i in range(8))
    targets = ServiceTargets(ttft_ms=2000.0)
    out = []
    for t in range(1, calls + 1):
        views = tuple(
            ServiceView(
                f"default/s{k}",
                1,
                32,
                None,
                targets,
                replicas,
                (
                    TrafficSample(
                        float(t),
                        1.0,
                        60 + (t * 7 + k) % 13,
                        60,
                        0,
                        40,
                        0,
                        600.0 + (t % 17) * 20,
                        None,
                        None,
                    ),
                ),
                8,
            )
            for k in range(services)
        )
        out.append(ScaleSnapshot(views))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1)
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    snapshots = _snapshots(args.services, args.calls)
    config = AutoscaleConfig()
    per_call_us = []
    for _ in range(5):
        memory = AutoscaleMemory()
        start = time.perf_counter()
        for t, snapshot in enumerate(snapshots, start=1):
            plan_scale(snapshot, memory, float(t), config)
        per_call_us.append((time.perf_counter() - start) / len(snapshots) * 1e6)
    median = statistics.median(per_call_us)
    print(
        f"plan_scale: {median:.1f} us per call (min {min(per_call_us):.1f}, max "
        f"{max(per_call_us):.1f}; {args.services} service(s), 8 replicas, 1 sample each)"
    )


if __name__ == "__main__":
    main()
