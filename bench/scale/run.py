"""The scale bench's run: a real etcd and controller(s), a swarm of workers, the figures.

Phases, in order: start the cluster and the swarm; wait until every node is Ready (the time is
reported); register W workloads and wait until all are placed; measure the steady state for S
seconds (reports accepted, lag, CPU, memory, etcd writes); time register -> placed one by one;
time one optimizer pass in process at the same size; with --failover, kill -9 the leader and
time until every node is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import click
import grpc

from bench.scale.placement import optimizer_pass_ms
from bench.scale.probes import (
    LagProbe,
    cpu_s,
    etcd_db_bytes,
    etcd_writes,
    histogram_quantile,
    metric_sum,
    placed_ms,
    placed_one_by_one,
    rss_mib,
    scrape,
)
from bench.scale.swarm import BAD_ROLES, WorkerSpec, worker_main
from sdk import Client
from sdk.cli.local_cluster import ClusterSpec, LocalCluster, Proc
from sdk.pb.aiwo.v1 import admin_pb2, admin_pb2_grpc, types_pb2

LAG_SAMPLE_NODES = 16
LAG_WINDOW_S = 15.0
PLACED_SAMPLE = 20  # workloads timed one by one, register -> placed
REGISTER_IN_FLIGHT = 64


@dataclass(frozen=True)
class Settings:
    nodes: int
    gpus_per_node: int
    period_s: float
    seconds: float
    workloads: int
    failover: bool
    bad_nodes: int
    workers: int
    placement_workloads: int = 0  # the in-process pass's placed workloads (0: as registered)
    leader_lease_s: int = 3  # the controller's default
    seed: int = 1
    ready_timeout_s: float = 600.0


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def node_names(settings: Settings) -> tuple[list[str], list[tuple[str, str]]]:
    good = [f"n-{i:05d}" for i in range(settings.nodes)]
    bad = [(f"bad-{BAD_ROLES[i % 3]}-{i:03d}", BAD_ROLES[i % 3]) for i in range(settings.bad_nodes)]
    return good, bad


class Swarm:
    def __init__(self, settings: Settings, targets: list[str]) -> None:
        good, bad = node_names(settings)
        everyone = [(n, "good") for n in good] + bad
        workers = max(1, settings.workers)
        self.pipes: list[Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        self.latest: dict[int, dict[str, Any]] = {}
        context = multiprocessing.get_context("spawn")
        for w in range(workers):
            spec = WorkerSpec(
                worker=w,
                targets=tuple(targets),
                nodes=tuple(everyone[w::workers]),
                gpus_per_node=settings.gpus_per_node,
                period_s=settings.period_s,
                seed=settings.seed,
            )
            parent, child = context.Pipe()
            proc = context.Process(target=worker_main, args=(spec, child), daemon=True)
            proc.start()
            child.close()
            self.pipes.append(parent)
            self.procs.append(proc)

    def poll(self) -> dict[str, Any]:
        """Every worker's latest counters, summed (CPU and memory too)."""
        for pipe in self.pipes:
            with contextlib.suppress(EOFError, OSError):
                while pipe.poll(0):
                    stats = pipe.recv()
                    self.latest[stats["worker"]] = stats
        total: dict[str, Any] = {}
        for stats in self.latest.values():
            for key, value in stats.items():
                if key in ("worker", "time_unix"):
                    continue
                if key == "last_attach_unix":
                    total[key] = max(total.get(key, 0.0), value)
                elif key == "codes":
                    codes = total.setdefault(key, {})
                    for code, count in value.items():
                        codes[code] = codes.get(code, 0) + count
                else:
                    total[key] = total.get(key, 0) + value
        return total

    def stop(self) -> dict[str, Any]:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send("stop")
        for proc in self.procs:
            proc.join(15)
            if proc.is_alive():
                proc.kill()
        return self.poll()


class Controller:
    """Admin stubs to the replicas, and which one leads."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.channels = {a: grpc.aio.insecure_channel(a) for a in cluster.controller_addresses}
        self.stubs = {a: admin_pb2_grpc.AdminServiceStub(c) for a, c in self.channels.items()}

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()

    async def leader(self) -> str | None:
        for address, stub in self.stubs.items():
            try:
                info = await stub.ClusterInfo(admin_pb2.ClusterInfoRequest(), timeout=2)
            except grpc.aio.AioRpcError:
                continue
            if info.leader:
                return address
        return None

    def proc(self, address: str) -> Proc:
        return next(
            p for p in self.cluster.procs if p.role == "controller" and p.address == address
        )

    async def node_states(self, address: str) -> dict[str, int]:
        reply = await self.stubs[address].ListNodes(admin_pb2.ListNodesRequest(), timeout=60)
        return {n.name: int(n.state) for n in reply.nodes}

    async def events(self, address: str, kind: str) -> list[types_pb2.Event]:
        reply = await self.stubs[address].ListEvents(
            admin_pb2.ListEventsRequest(object="", limit=10_000), timeout=60
        )
        return [e for e in reply.events if e.kind == kind]


def _start_cluster(settings: Settings, state: Path) -> LocalCluster:
    spec = ClusterSpec(
        state,
        nodes=0,
        controllers=2 if settings.failover else 1,
        controller_args=(
            # Every simulated node shares 127.0.0.1; a real fleet has one address per node.
            "--rate-limit-rps", "0",
            "--max-workloads-per-namespace", "0",
            "--log-level", "warning",
            "--leader-lease-s", str(settings.leader_lease_s),
        ),
        default_ports=False,
    )  # fmt: skip
    cluster = LocalCluster(spec)
    cluster.start()
    return cluster


async def _until(check: Any, timeout_s: float, what: str, every_s: float = 0.5) -> float:
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > timeout_s:
            raise click.ClickException(f"{what} did not happen within {timeout_s:g} s")
        await asyncio.sleep(every_s)
    return time.monotonic() - start


async def _register_all(target: str, count: int, prefix: str) -> list[float]:
    """Register `count` workloads with REGISTER_IN_FLIGHT in flight; register->placed ms."""
    client = await Client.connect(target)
    latencies: list[float] = []
    gate = asyncio.Semaphore(REGISTER_IN_FLIGHT)

    async def one(i: int) -> None:
        async with gate:
            latencies.append(await placed_ms(client, f"{prefix}-{i}", "scale", timeout_s=600))

    try:
        await asyncio.gather(*(one(i) for i in range(count)))
    finally:
        await client.close()
    return latencies


def _good(states: dict[str, int], state: int) -> set[str]:
    """The well-behaved nodes (n-*) in `state`."""
    return {n for n, s in states.items() if s == state and n.startswith("n-")}


def _good_objects(events: list[types_pb2.Event]) -> set[str]:
    """The well-behaved nodes named by node events ("node/n-00001")."""
    names = {e.object.partition("/")[2] for e in events}
    return {n for n in names if n.startswith("n-")}


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


async def _steady(
    settings: Settings, cluster: LocalCluster, control: Controller, swarm: Swarm, leader: str
) -> dict[str, Any]:
    pid = control.proc(leader).pid
    etcd_pid = next(p.pid for p in cluster.procs if p.role == "etcd")
    metrics_address = cluster.metrics_addresses[cluster.controller_addresses.index(leader)]
    etcd_metrics = cluster.etcd_endpoints[0]
    good, bad = node_names(settings)

    def sample(first: bool) -> dict[str, Any]:
        # The controller's CPU is read after the first scrape and before the last, so that
        # the window holds no scrape of the bench's own: a /metrics scrape renders every
        # GPU's series (about 0.5 s of CPU at 8,000 GPUs), which is no per-report cost.
        # What one scrape costs is reported on its own (`metrics_scrape_cpu_s`).
        cpu_before = cpu_s(pid)
        scrape_started = time.monotonic()
        ctl = scrape(metrics_address)
        scrape_s = time.monotonic() - scrape_started
        cpu_after = cpu_s(pid)
        etcd = scrape(etcd_metrics)
        return {
            "t": time.monotonic(),
            "cpu_t": scrape_started + scrape_s if first else scrape_started,
            "accepted": metric_sum(ctl, "aiwo_telemetry_reports_total", outcome="accepted")
            or metric_sum(ctl, "aiwo_stream_messages_total", stream="agent", kind="telemetry"),
            "refused": sum(
                metric_sum(ctl, "aiwo_telemetry_reports_total", outcome=outcome)
                for outcome in ("invalid", "dropped", "stream_refused")
            ),
            "cpu": cpu_after if first else cpu_before,
            "scrape_cpu_s": cpu_after - cpu_before,
            "scrape_s": scrape_s,
            "etcd_cpu": cpu_s(etcd_pid),
            "etcd_writes": etcd_writes(etcd),
            "swarm": swarm.poll(),
        }

    # CPU, rates and writes first, with no probe calling the controller; then the lag, from
    # a probe polling ListGpus for a few nodes (its calls cost the controller CPU).
    before = await asyncio.to_thread(sample, True)
    await asyncio.sleep(settings.seconds)
    after = await asyncio.to_thread(sample, False)
    stride = max(1, len(good) // LAG_SAMPLE_NODES)
    probe = LagProbe(leader, good[::stride][:LAG_SAMPLE_NODES])
    stop = asyncio.Event()
    probe_task = asyncio.create_task(probe.run(stop))
    await asyncio.sleep(max(2.0, 2 * settings.period_s))  # the probe's first sight says nothing
    probe.reset()
    await asyncio.sleep(min(settings.seconds, LAG_WINDOW_S))
    stop.set()
    await probe_task
    elapsed = after["t"] - before["t"]
    cpu_elapsed = after["cpu_t"] - before["cpu_t"]
    cpu_rate = (after["cpu"] - before["cpu"]) / cpu_elapsed
    ctl = await asyncio.to_thread(scrape, metrics_address)
    etcd = await asyncio.to_thread(scrape, etcd_metrics)
    states = await control.node_states(leader)
    ready = len(_good(states, types_pb2.NODE_STATE_READY))  # the well-behaved nodes
    lags = probe.all_lags()
    swarm_before, swarm_after = before["swarm"], after["swarm"]
    sent = swarm_after["reports_sent"] - swarm_before["reports_sent"]
    return {
        "seconds": round(elapsed, 2),
        "reports_per_s": round((after["accepted"] - before["accepted"]) / elapsed, 1),
        "reports_sent_per_s": round(sent / elapsed, 1),
        "reports_expected_per_s": round(settings.nodes / settings.period_s, 1),
        "report_lag_s": {
            "nodes_sampled": len(probe.nodes),
            "samples": len(lags),
            "median": _round(quantile(lags, 0.5)),
            "p99": _round(quantile(lags, 0.99)),
            "max": _round(max(lags) if lags else None),
            "poll_s": 0.05,
        },
        "nodes_ready": ready,
        "nodes_registered": len([n for n in states if n.startswith("n-")]),
        "controller_rss_mib": round(rss_mib(pid), 1),
        "controller_cpu_s_per_s": round(cpu_rate, 3),
        # One scrape of the controller's /metrics: its CPU (ingestion goes on meanwhile, so
        # the steady rate times its wall time is taken off) and its wall time.
        "metrics_scrape_cpu_s": round(after["scrape_cpu_s"] - after["scrape_s"] * cpu_rate, 3),
        "metrics_scrape_s": round(after["scrape_s"], 3),
        "controller_optimize_p99_ms_bucket": _round(
            (histogram_quantile(ctl, "aiwo_optimize_duration_seconds", 0.99) or 0) * 1000, 1
        ),
        "etcd_cpu_s_per_s": round((after["etcd_cpu"] - before["etcd_cpu"]) / elapsed, 3),
        "etcd_writes_per_s": round((after["etcd_writes"] - before["etcd_writes"]) / elapsed, 2),
        "etcd_db_mib": round(etcd_db_bytes(etcd) / 2**20, 2),
        "swarm": {
            "workers": len(swarm.procs),
            "cpu_s_per_s": round((swarm_after["cpu_s"] - swarm_before["cpu_s"]) / elapsed, 3),
            "rss_mib": round(swarm_after["rss_mib"], 1),
            "late_ticks": swarm_after["late_ticks"] - swarm_before["late_ticks"],
            "attached": swarm_after["attached"],
            "refused": swarm_after["refused"] - swarm_before["refused"],
            "refused_codes": swarm_after.get("codes", {}),
        },
        "bad_nodes": {
            "count": len(bad),
            "sent_per_s": round((swarm_after["bad_sent"] - swarm_before["bad_sent"]) / elapsed, 1),
            # Reports dropped or invalid, and streams not admitted, as the controller counts.
            "refused_by_controller_per_s": round(
                (after["refused"] - before["refused"]) / elapsed, 1
            ),
            "streams_refused_invalid": swarm_after["invalid"] - swarm_before["invalid"],
            "streams_refused_exhausted": swarm_after["exhausted"] - swarm_before["exhausted"],
        },
    }


async def _failover(
    settings: Settings, cluster: LocalCluster, control: Controller, swarm: Swarm, old: str
) -> dict[str, Any]:
    placements_before = await _placements(control, old)
    killed_unix = time.time()
    cluster.kill(control.proc(old).name)
    killed = time.monotonic()
    new_leader: list[str] = []
    not_ready_seen: set[str] = set()

    async def elected() -> bool:
        leader = await control.leader()
        if leader is not None and leader != old:
            new_leader.append(leader)
            return True
        return False

    elected_s = await _until(elected, 120, "a new leader", every_s=0.1)
    leader = new_leader[-1]

    async def all_back() -> bool:
        stats = swarm.poll()
        try:
            states = await control.node_states(leader)
        except grpc.aio.AioRpcError:
            return False
        not_ready_seen.update(
            n
            for n, s in states.items()
            if s == types_pb2.NODE_STATE_NOT_READY and n.startswith("n-")
        )
        ready = sum(
            1 for n, s in states.items() if s == types_pb2.NODE_STATE_READY and n.startswith("n-")
        )
        return (
            stats.get("attached", 0) >= settings.nodes
            and stats.get("last_attach_unix", 0) > killed_unix
            and ready >= settings.nodes
        )

    await _until(all_back, 300, "every node back and Ready", every_s=0.25)
    all_ready_s = time.monotonic() - killed
    # Watch a little longer: a node falsely marked NotReady shows up after the grace.
    watch_until = time.monotonic() + 15
    while time.monotonic() < watch_until:
        await all_back()
        await asyncio.sleep(0.5)
    not_ready_events = [
        e for e in await control.events(leader, "node_not_ready") if e.time_unix > killed_unix
    ]
    evicted = [
        e for e in await control.events(leader, "workload_evicted") if e.time_unix > killed_unix
    ]
    placements_after = await _placements(control, leader)
    moved = sum(1 for k, v in placements_before.items() if placements_after.get(k) != v)
    return {
        "elected_s": round(elected_s, 2),
        "failover_all_ready_s": round(all_ready_s, 2),
        "failover_evicted": len(evicted) + moved,
        "nodes_not_ready": len(not_ready_seen | _good_objects(not_ready_events)),
        "new_leader_rss_mib": round(rss_mib(control.proc(leader).pid), 1),
    }


async def _placements(control: Controller, address: str) -> dict[str, tuple[str, tuple[int, ...]]]:
    reply = await control.stubs[address].ListWorkloads(
        admin_pb2.ListWorkloadsRequest(namespace="scale"), timeout=120
    )
    return {f"{w.namespace}/{w.name}": (w.node, tuple(w.gpus)) for w in reply.workloads if w.node}


async def _run(settings: Settings, cluster: LocalCluster) -> dict[str, Any]:
    control = Controller(cluster)
    swarm = Swarm(settings, cluster.controller_addresses)
    result: dict[str, Any] = {}
    try:
        leader_box: list[str] = []

        async def has_leader() -> bool:
            leader = await control.leader()
            if leader:
                leader_box.append(leader)
            return leader is not None

        await _until(has_leader, 60, "a leader")
        leader = leader_box[-1]
        started = time.monotonic()

        async def all_ready() -> bool:
            states = await control.node_states(leader)
            ready = sum(
                1
                for n, s in states.items()
                if s == types_pb2.NODE_STATE_READY and n.startswith("n-")
            )
            return ready >= settings.nodes and swarm.poll().get("attached", 0) >= settings.nodes

        await _until(all_ready, settings.ready_timeout_s, "every node Ready", every_s=1.0)
        result["startup_all_ready_s"] = round(time.monotonic() - started, 2)
        t0 = time.monotonic()
        bulk = await _register_all(leader, settings.workloads, "bulk")
        result["workloads"] = {
            "count": settings.workloads,
            "registered_placed_s": round(time.monotonic() - t0, 2),
            "bulk_register_to_placed_p99_ms": _round(quantile(bulk, 0.99), 1),
        }
        result["steady"] = await _steady(settings, cluster, control, swarm, leader)
        timed = (f"timed-{i}" for i in range(PLACED_SAMPLE))
        one_by_one = await placed_one_by_one(leader, timed, "scale", timeout_s=120)
        result["register_to_placed_ms"] = {
            "samples": len(one_by_one),
            "median": _round(statistics.median(one_by_one), 1),
            "p99": _round(quantile(one_by_one, 0.99), 1),
        }
        if settings.failover:
            try:
                result["failover"] = await _failover(settings, cluster, control, swarm, leader)
            except click.ClickException as exc:  # report what was measured before it
                result["failover"] = {"error": exc.message}
    finally:
        result["swarm_final"] = swarm.stop()
        await control.close()
    result["placement_ms"] = await asyncio.to_thread(
        optimizer_pass_ms,
        settings.nodes,
        settings.gpus_per_node,
        settings.placement_workloads or settings.workloads + PLACED_SAMPLE,
    )
    return result


def run(settings: Settings) -> dict[str, Any]:
    # AIWO_BENCH_KEEP_STATE=1 keeps the cluster's state directory (logs) for a post-mortem.
    tmp = Path(tempfile.mkdtemp(prefix="aiwo-bench-scale-"))
    try:
        cluster = _start_cluster(settings, tmp / "state")
        try:
            result = asyncio.run(_run(settings, cluster))
        finally:
            cluster.stop(grace_s=5)
    finally:
        if os.environ.get("AIWO_BENCH_KEEP_STATE"):
            click.echo(f"state kept in {tmp}", err=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result["settings"] = {
        "nodes": settings.nodes,
        "gpus_per_node": settings.gpus_per_node,
        "period_s": settings.period_s,
        "seconds": settings.seconds,
        "workloads": settings.workloads,
        "failover": settings.failover,
        "bad_nodes": settings.bad_nodes,
        "workers": settings.workers,
        "placement_workloads": settings.placement_workloads,
        "leader_lease_s": settings.leader_lease_s,
    }
    with open("/proc/loadavg") as f:
        result["loadavg"] = f.read().split()[:3]
    return result
