"""Telemetry in memory only: per-node ring buffers of GPU samples, as numpy arrays.

Never written to etcd (DESIGN.md). A node's buffer is one (slots, gpus, fields) float array
plus a timestamp column, so ingest is one row copy and a window query is a slice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdk.pb.aiwo.v1 import node_pb2, types_pb2

FIELDS = (
    "utilization_pct",
    "memory_used_mib",
    "power_w",
    "power_limit_w",
    "temperature_c",
    "sm_clock_mhz",
)
_FIELD_INDEX = {name: i for i, name in enumerate(FIELDS)}


@dataclass(frozen=True, slots=True)
class GpuLatest:
    time_unix: float
    utilization_pct: float
    memory_used_mib: float
    power_w: float
    power_limit_w: float
    temperature_c: float
    sm_clock_mhz: float


class NodeTelemetry:
    def __init__(self, gpu_count: int, slots: int) -> None:
        self.gpu_count = gpu_count
        self.slots = slots
        self.values = np.full((slots, max(gpu_count, 1), len(FIELDS)), np.nan, dtype=np.float64)
        self.times = np.zeros(slots, dtype=np.float64)
        self.count = 0  # total samples ever written
        self.nets: list[types_pb2.NetSample] = []
        self.backend: types_pb2.GpuBackend | None = None
        self.throttles: dict[str, float] = {}  # workload -> cpu fraction in force (0: frozen)
        self.clock_locks: dict[int, tuple[int, int]] = {}  # GPU -> locked (min, max) MHz

    def add(self, report: node_pb2.TelemetryReport) -> None:
        row = self.count % self.slots
        self.values[row].fill(np.nan)
        for sample in report.gpus:
            if 0 <= sample.index < self.gpu_count:
                self.values[row, sample.index] = (
                    sample.utilization_pct,
                    sample.memory_used_mib,
                    sample.power_w,
                    sample.power_limit_w,
                    sample.temperature_c,
                    sample.sm_clock_mhz,
                )
        self.times[row] = report.time_unix
        self.count += 1
        if report.nets:
            self.nets = list(report.nets)
        if report.HasField("gpu_backend"):
            self.backend = report.gpu_backend
        self.throttles = {t.workload: t.cpu_fraction for t in report.throttles}
        self.clock_locks = {c.gpu_index: (c.min_mhz, c.max_mhz) for c in report.clock_locks}

    def latest(self, index: int) -> GpuLatest | None:
        if self.count == 0 or not 0 <= index < self.gpu_count:
            return None
        row = (self.count - 1) % self.slots
        values = self.values[row, index]
        if np.isnan(values[0]):
            return None
        return GpuLatest(float(self.times[row]), *(float(v) for v in values))

    def window(self, since_unix: float) -> tuple[np.ndarray, np.ndarray]:
        """(times, values[time, gpu, field]) for samples newer than `since_unix`, oldest first."""
        n = min(self.count, self.slots)
        order = (np.arange(self.count - n, self.count) % self.slots) if n else np.arange(0)
        times = self.times[order]
        keep = times > since_unix
        return times[keep], self.values[order][keep]

    def mean(self, field: str, since_unix: float) -> np.ndarray:
        """Per-GPU mean of `field` over the window (NaN where no sample)."""
        _, values = self.window(since_unix)
        if len(values) == 0:
            return np.full(self.gpu_count, np.nan)
        column = values[:, : self.gpu_count, _FIELD_INDEX[field]]
        with np.errstate(all="ignore"):
            return np.nanmean(column, axis=0)


class TelemetryStore:
    def __init__(self, window_s: float, interval_s: float) -> None:
        # Room for the window at the expected rate, with slack for agents that report faster.
        self._slots = max(16, int(2 * window_s / max(interval_s, 0.05)))
        self._nodes: dict[str, NodeTelemetry] = {}

    def ensure(self, node: str, gpu_count: int) -> NodeTelemetry:
        current = self._nodes.get(node)
        if current is None or current.gpu_count != gpu_count:
            current = NodeTelemetry(gpu_count, self._slots)
            self._nodes[node] = current
        return current

    def get(self, node: str) -> NodeTelemetry | None:
        return self._nodes.get(node)

    def drop(self, node: str) -> None:
        self._nodes.pop(node, None)

    def nodes(self) -> list[tuple[str, NodeTelemetry]]:
        return list(self._nodes.items())
