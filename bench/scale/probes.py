"""What the scale bench reads from outside the swarm: process CPU and memory from /proc,
Prometheus text from the controller and etcd, report lag through ListGpus, and the
register -> placed latency through the SDK (the controlplane bench times placement so too)."""

from __future__ import annotations

import asyncio
import os
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field

import grpc

from sdk import Client, Resources
from sdk.pb.aiwo.v1 import admin_pb2, admin_pb2_grpc

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
LAG_POLL_S = 0.05  # a lag figure is late by at most this much


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def scrape(address: str) -> dict[str, float]:
    """Prometheus text as {'name{labels}': value} (sums of repeated lines are not needed)."""
    body = urllib.request.urlopen(f"http://{address}/metrics", timeout=10).read().decode()
    values: dict[str, float] = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            values[name] = float(value)
        except ValueError:
            continue
    return values


def metric_sum(values: dict[str, float], name: str, **labels: str) -> float:
    """The sum of `name` over the series whose labels include `labels`."""
    total = 0.0
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    for key, value in values.items():
        base = key.split("{", 1)[0]
        if base == name and all(w in key for w in wanted):
            total += value
    return total


def histogram_quantile(values: dict[str, float], name: str, q: float) -> float | None:
    """The upper bound of the bucket holding quantile `q` (Prometheus' coarse answer)."""
    buckets = []
    for key, value in values.items():
        if key.startswith(f"{name}_bucket{{"):
            text = key.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if text == "+Inf" else float(text), value))
    if not buckets:
        return None
    buckets.sort()
    total = buckets[-1][1]
    if total <= 0:
        return None
    for bound, count in buckets:
        if count >= q * total:
            return bound
    return None


def etcd_writes(values: dict[str, float]) -> float:
    return metric_sum(values, "etcd_mvcc_put_total") + metric_sum(values, "etcd_mvcc_delete_total")


def etcd_db_bytes(values: dict[str, float]) -> float:
    return metric_sum(values, "etcd_mvcc_db_total_size_in_bytes")


@dataclass
class LagProbe:
    """Polls ListGpus for a few nodes; a lag is (first seen in ListGpus) - (sample time)."""

    target: str
    nodes: list[str]
    lags_s: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        async with grpc.aio.insecure_channel(self.target) as channel:
            stub = admin_pb2_grpc.AdminServiceStub(channel)
            await asyncio.gather(*(self._one(stub, node, stop) for node in self.nodes))

    async def _one(
        self, stub: admin_pb2_grpc.AdminServiceStub, node: str, stop: asyncio.Event
    ) -> None:
        seen = 0.0
        lags = self.lags_s.setdefault(node, [])
        while not stop.is_set():
            try:
                reply = await stub.ListGpus(admin_pb2.ListGpusRequest(node=node), timeout=5)
            except grpc.aio.AioRpcError:
                self.errors += 1
                await asyncio.sleep(0.5)
                continue
            now = time.time()
            sample = reply.gpus[0].sample_unix if reply.gpus else 0.0
            if sample > seen:
                if seen:  # the first one seen may be old: it says nothing about lag
                    lags.append(now - sample)
                seen = sample
            await asyncio.sleep(LAG_POLL_S)

    def reset(self) -> None:
        for lags in self.lags_s.values():
            lags.clear()

    def all_lags(self) -> list[float]:
        return [lag for lags in self.lags_s.values() for lag in lags]


QUARTER_GPU = Resources(gpus=1, milli_gpu=250)  # what every timed workload asks for


async def placed_ms(client: Client, name: str, namespace: str, timeout_s: float) -> float:
    """Register a quarter-GPU workload and wait until it is placed: register -> placed, ms."""
    t0 = time.perf_counter()
    handle = await client.register(name, namespace=namespace, resources=QUARTER_GPU)
    await handle.wait_placed(timeout=timeout_s)
    return (time.perf_counter() - t0) * 1000


async def placed_one_by_one(
    target: str, names: Iterable[str], namespace: str, timeout_s: float
) -> list[float]:
    """`placed_ms` of each workload in turn (none in flight with another), ms."""
    async with await Client.connect(target) as client:
        return [await placed_ms(client, name, namespace, timeout_s) for name in names]
