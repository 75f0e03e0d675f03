"""plan_scale: per service, learn from the new samples, then decide how many replicas.

Per service and call (docs/autoscaling.md has the long form):
1. Learn: each new sample feeds the demand windows, the seasonal profiles and trend, and (for
   a service with SLO targets) the per-replica limits; starting -> ready transitions teach the
   load time.
2. Need: demand predicted at now + load time + margin, divided by what one replica sustains
   at the SLO, in arrivals/s and in requests in flight (the larger wins). A service without
   targets uses a fixed target concurrency.
3. Direction: up at once when the need exceeds the replicas there are (ready + starting);
   panic (Knative) when the short window needs panic_threshold x the ready replicas: take the
   short window's need and never scale in for a stable window after; down only to the highest
   recommendation of the stabilization window, computed with a tolerance dead band.
4. Bounds: pinned, min..max, the scale-up and scale-down rates, then room: replicas beyond
   free capacity need preemption (needs_room), beyond that they are blocked (said so).
5. Scale-in picks the replicas whose removal frees a node or GPU, then the least busy.
"""

from __future__ import annotations

import math

from controlplane.optimizer.autoscale.config import AutoscaleConfig
from controlplane.optimizer.autoscale.memory import AutoscaleMemory, ServiceMemory
from controlplane.optimizer.autoscale.reasons import Fields, num, slo_text
from controlplane.optimizer.autoscale.scale_in import pick_removals
from controlplane.optimizer.autoscale.types import (
    ScaleDecision,
    ScalePlan,
    ScaleSnapshot,
    ServiceTargets,
    ServiceView,
    TrafficSample,
)

_EPS = 1e-9
_HELD_SETTLE_S = 15.0  # held requests are answered within seconds of a replica appearing
_BURST_SETTLE_S = 15.0  # a burst's queue drains within seconds once demand is back in bounds


def plan_scale(
    snapshot: ScaleSnapshot, memory: AutoscaleMemory, now: float, config: AutoscaleConfig
) -> ScalePlan:
    decisions = tuple(
        _plan_service(view, memory.service(view.key, now, config), now, config)
        for view in snapshot.services
    )
    if len(memory.services) > len(snapshot.services):
        memory.forget_except({view.key for view in snapshot.services})
    return ScalePlan(decisions)


def _ceil(value: float) -> int:
    return math.ceil(value - _EPS) if value > _EPS else 0


def _slo_ratio(
    sample: TrafficSample, targets: ServiceTargets, memory: ServiceMemory
) -> float | None:
    """The worst p99 / target in the sample, None when it measured none of the targets."""
    worst: float | None = None
    for measure, p99, target in (
        ("ttft", sample.ttft_p99_ms, targets.ttft_ms),
        ("tpot", sample.chunk_gap_p99_ms, targets.tpot_ms),
        ("p99", sample.latency_p99_ms, targets.p99_ms),
    ):
        if p99 is None or target is None or target <= 0.0:
            continue
        ratio = p99 / target
        if worst is None or ratio > worst:
            worst = ratio
            memory.last_measure = measure
            memory.last_p99_ms = p99
            memory.last_target_ms = target
    if worst is not None:
        memory.last_ratio = worst
    return worst


def _learn(view: ServiceView, memory: ServiceMemory, ready: int, config: AutoscaleConfig) -> None:
    targets = view.targets
    has_slo = targets.any
    # A sample's interval ended between the previous call and this one: count the replicas
    # that were ready at either (more replicas = a lower load per replica = the safe side).
    serving = max(memory.last_ready, ready)
    stable, panic, forecaster = memory.stable, memory.panic, memory.forecaster
    rate_limit, concurrency_limit = memory.rate_limit, memory.concurrency_limit
    over = 1.0 + config.tolerance
    burst, gap, horizon_s = memory.burst, memory.gap, memory.horizon_s
    settle_s = config.stable_window_s + horizon_s
    for sample in view.traffic:
        interval_s = sample.interval_s if sample.interval_s > 0.0 else 1.0
        end = sample.time_unix
        arrivals = sample.arrivals
        concurrency = sample.in_flight + sample.queued
        stable.add(end, interval_s, arrivals, concurrency)
        panic.add(end, interval_s, arrivals, concurrency)
        forecaster.add(end, interval_s, arrivals, config)
        sustained_rps, sustained_conc = stable.read(end)
        burst_rps, burst_conc = panic.read(end)
        gap.add(end, interval_s, arrivals, sustained_rps)
        # Demand resuming after a gap grows from a window still filling: no lesson about
        # bursts (the gap floor covers a resumption).
        if end - gap.resumed_unix > settle_s:
            # burst_from_stable: growth of the stable rate only (the learned capacity already
            # answers the seconds-scale noise the panic window carries).
            grown_rps = sustained_rps if config.burst_from_stable else burst_rps
            burst.add(end, interval_s, arrivals, sustained_rps, grown_rps, horizon_s, config)
        # The gateway's TTFT includes time held for want of a replica: samples with requests
        # held, or within _HELD_SETTLE_S of a time with no ready replica, say nothing about
        # what a replica sustains.
        if not has_slo:
            continue
        ratio = _slo_ratio(sample, targets, memory)  # recorded for the reason line in any case
        if (
            ratio is not None
            and serving > 0
            and not sample.queued
            and end - memory.zero_ready_unix >= _HELD_SETTLE_S
        ):
            # Known short: sustained demand (the stable window) above what the ready
            # replicas carry at the estimate, by more than the tolerance. A breach then
            # is no news about the estimate.
            # Known short in a burst too: the panic window's demand above that, or was within
            # _BURST_SETTLE_S (the queue a burst leaves keeps TTFT high while it drains).
            in_burst = False
            if config.learn_skip_bursts:
                if (
                    burst_rps > serving * rate_limit.value * over
                    or burst_conc > serving * concurrency_limit.value * over
                ):
                    memory.burst_unix = end
                in_burst = end - memory.burst_unix < _BURST_SETTLE_S
            rate_limit.observe(
                arrivals / interval_s / serving,
                ratio,
                interval_s,
                end,
                config,
                in_burst or sustained_rps > serving * rate_limit.value * over,
                sustained_rps / serving,
            )
            concurrency_limit.observe(
                sample.in_flight / serving,
                ratio,
                interval_s,
                end,
                config,
                in_burst or sustained_conc > serving * concurrency_limit.value * over,
                sustained_conc / serving,
            )


def _plan_service(
    view: ServiceView, memory: ServiceMemory, now: float, config: AutoscaleConfig
) -> ScaleDecision:
    starting = memory.cold_start.observe(view.replicas, config)
    ready = 0
    for replica in view.replicas:
        if replica.state == "ready":
            ready += 1
    current = ready + starting
    if ready == 0 or memory.last_ready == 0:
        memory.zero_ready_unix = now
    _learn(view, memory, ready, config)
    memory.last_ready = ready

    has_slo = view.targets.any
    rate_rps, concurrency = memory.stable.read(now)
    panic_rps, panic_concurrency = memory.panic.read(now)
    held = view.traffic[-1].queued if view.traffic else 0
    per_replica_rps = memory.rate_limit.value if has_slo else 0.0
    per_replica_conc = memory.concurrency_limit.value if has_slo else config.target_concurrency
    cold_start_s = memory.cold_start.estimate_s(now)
    horizon_s = cold_start_s + config.cold_start_margin_s
    memory.horizon_s = horizon_s
    forecast_rps = memory.forecaster.forecast(rate_rps, now, horizon_s, config)
    growth = forecast_rps / rate_rps if rate_rps > 0.0 else 1.0
    headroom = memory.burst.headroom(now, horizon_s, config)
    gap_s = memory.gap.gap_s(now)
    floor_rps = 0.0
    if gap_s > 0.0:
        profile_rps, seen = memory.forecaster.day.read(int(now // 60.0))
        floor_rps = memory.gap.floor_rps(now, profile_rps if seen >= 3 else 0.0, config)
    planned_rps = max(forecast_rps, rate_rps * headroom, floor_rps * headroom)
    need_rate = planned_rps / per_replica_rps if has_slo else 0.0
    need_conc = concurrency * growth / per_replica_conc
    need = max(need_rate, need_conc)
    panic_need = max(
        panic_rps / per_replica_rps if has_slo else 0.0, panic_concurrency / per_replica_conc
    )
    if panic_need > _EPS and panic_need >= config.panic_threshold * max(ready, 1):
        if now >= memory.panic_until_unix and memory.panic_floor < 0:
            memory.panic_floor = current
        memory.panic_until_unix = now + config.stable_window_s
    panicking = now < memory.panic_until_unix

    rec_up = _ceil(need)
    band = 1.0 - config.tolerance
    if memory.last_direction > 0 and has_slo:
        # A scale-in that turns back a scale-up must outlast one cut of the learned capacity:
        # the fewer replicas are a test of it, and a breach at the new count cuts it by
        # learn_cut; were the band no wider than that cut, the cut alone would scale up again
        # within seconds (two changes of direction inside one stabilization window).
        band *= 1.0 - config.learn_cut
    rec_down = _ceil(need / band)
    base_window_s = config.scale_down_stabilization_s
    window_s = memory.recommendations.window_s
    if memory.flap_level and now - memory.flap_unix > 3.0 * window_s:
        memory.flap_level = 0  # calm for three windows: back to the configured window
        memory.recommendations.window_s = window_s = base_window_s
    memory.recommendations.push(now, rec_down)
    if config.panic_release_s > 0.0:
        memory.recent_recommendations.push(now, rec_down)
    if memory.panic_floor >= 0 and not panicking and current <= memory.panic_floor:
        memory.panic_floor = -1  # the panic-grown replicas are gone
    settled = now - memory.first_seen_unix >= base_window_s
    stabilized = memory.recommendations.max()

    lo = max(0, view.min_replicas)
    hi = max(lo, view.max_replicas)
    notes: list[str] = []
    blocked: str | None = None
    if view.pinned is not None:
        wanted = view.pinned
        desired = min(max(view.pinned, lo), hi)
        notes.append(f"pinned at {view.pinned} (aiwo scale --replicas)")
    else:
        if panicking:
            wanted = max(current, rec_up, _ceil(panic_need))
            notes.append(
                f"panic: {num(panic_rps)} req/s over {num(config.panic_window_s)} s needs "
                f"{num(panic_need)} replicas, {ready} ready; no scale-in until it passes"
            )
        elif rec_up > current:
            wanted = rec_up
        elif (
            memory.panic_floor >= 0
            and 0.0 < config.panic_release_s < window_s
            and (release := max(memory.panic_floor, memory.recent_recommendations.max())) < current
        ):
            # The burst has passed and the recent need is below what the panic added: those
            # replicas were for the burst, not for the level the stabilization window guards.
            wanted = max(release, math.floor(current / config.max_scale_down_rate))
            notes.append(f"panic passed: releasing replicas it added (back to {release})")
        elif stabilized < current and settled:
            wanted = max(stabilized, math.floor(current / config.max_scale_down_rate))
        else:
            wanted = current
            if rec_down < current:
                notes.append(
                    f"scale-in waits out the {num(window_s)} s "
                    f"stabilization window (its highest recommendation: {stabilized})"
                )
        if current == 0 and (held > 0 or panic_rps > 0.0 or panic_concurrency > 0.0):
            wanted = max(wanted, 1)  # demand with no replica at all: start one now
            notes.append(f"scale from zero: {held} requests held with no ready replica")
        if ready > 0 and wanted > current:
            wanted = max(current, min(wanted, math.ceil(ready * config.max_scale_up_rate)))
        desired = min(max(wanted, lo), hi)
        if wanted > hi:
            blocked = f"at max {hi} replicas; {wanted} wanted"

    needs_room = 0
    if desired > current:
        adding = desired - current
        free = max(0, view.room)
        by_preemption = max(0, view.room_by_preemption)
        from_free = min(adding, free)
        needs_room = min(adding - from_free, by_preemption)
        short = adding - from_free - needs_room
        if needs_room:
            notes.append(f"{needs_room} of {adding} new replicas need batch work preempted")
        if short:
            desired -= short
            blocked = (
                f"no room for {short} of {adding} more replicas: {free} fit on free capacity, "
                f"{by_preemption} by preempting lower-priority work"
            )

    remove = pick_removals(view.replicas, current - desired) if desired < current else ()
    if desired != current:
        direction = 1 if desired > current else -1
        if (
            direction > 0
            and memory.last_direction < 0
            and now - memory.last_change_unix < memory.recommendations.window_s
            and config.flap_backoff_max > 0
        ):
            # Down, then up again within the window: this service's load swings wider than
            # the dead band. Wait twice as long before the next scale-in (up to 2 ** max).
            memory.flap_level = min(memory.flap_level + 1, config.flap_backoff_max)
            memory.flap_unix = now
            memory.recommendations.window_s = window_s = base_window_s * 2**memory.flap_level
        memory.last_direction = direction
        memory.last_change_unix = now

    if desired != current:
        head = f"scale {view.key} {current} -> {desired}: "
    else:
        head = f"hold {view.key} at {current}: "
    if has_slo:
        if need_rate >= need_conc:
            why = (
                f"{num(forecast_rps)} req/s predicted in {num(horizon_s)} s; "
                f"{num(per_replica_rps)} req/s per replica"
            )
            if planned_rps > forecast_rps:
                if floor_rps * headroom >= planned_rps:
                    why += (
                        f"; zero-demand gap of {num(gap_s)} s: holding for its "
                        f"{num(floor_rps)} req/s before it (it resumed after up to "
                        f"{num(memory.gap.longest_resumed_s)} s)"
                    )
                why += (
                    f"; burst headroom x{num(headroom)} ({num(planned_rps)} req/s): "
                    f"{num(100.0 * config.burst_quantile)}th percentile of demand growth "
                    f"within {num(horizon_s)} s at this hour"
                )
        else:
            why = (
                f"{num(concurrency * growth)} in flight predicted in {num(horizon_s)} s; "
                f"{num(per_replica_conc)} in flight per replica"
            )
        if memory.last_ratio is not None:
            why += " at " + slo_text(memory.last_measure, memory.last_p99_ms, memory.last_target_ms)
        else:
            why += " (prior: no latency measured yet)"
    else:
        why = (
            f"{num(concurrency * growth)} in flight predicted in {num(horizon_s)} s; "
            f"target {num(per_replica_conc)} per replica (no SLO targets)"
        )
    if notes:
        why += "; " + "; ".join(notes)
    if blocked:
        why += "; blocked: " + blocked
    reason = head + why
    fields = Fields(
        {
            "current": current,
            "desired": desired,
            "ready": ready,
            "starting": starting,
            "rate_rps": rate_rps,
            "forecast_rps": forecast_rps,
            "planned_rps": planned_rps,
            "headroom": headroom,
            "gap_floor_rps": floor_rps,
            "horizon_s": horizon_s,
            "cold_start_s": cold_start_s,
            "concurrency": concurrency,
            "per_replica_rps": per_replica_rps,
            "per_replica_concurrency": per_replica_conc,
            "panic": panicking,
            "stabilized": stabilized,
            "stabilization_s": window_s,
            "room": view.room,
            "room_by_preemption": view.room_by_preemption,
        }
    )
    return ScaleDecision(
        view.key, current, desired, remove, needs_room, blocked, reason, fields, why
    )
