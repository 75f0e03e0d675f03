"""Telemetry in memory only: per-node ring buffers of GPU samples, as numpy arrays.

Never written to etcd (DESIGN.md). A node's buffer is one (slots, gpus, fields) float array
plus a timestamp column, so ingest is one block copy and the latest sample is a row.

The sample's fields are the wire message's (`types_pb2.GpuSample`): `FIELDS` is read from
its descriptor, so no other list of them is kept. Readers get a sample back as that message
(`latest`), or as the raw row with `FIELD_INDEX` (bulk readers: metrics, the runtime loop).
Health fields ride along: `throttle_reasons` and `ecc_uncorrected` are columns, and the
latest `xid_events` of each GPU are kept as they came.
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np
from google.protobuf.descriptor import FieldDescriptor

from sdk.pb.aiwo.v1 import node_pb2, types_pb2

_INTEGER_TYPES = frozenset(
    {
        FieldDescriptor.CPPTYPE_INT32,
        FieldDescriptor.CPPTYPE_INT64,
        FieldDescriptor.CPPTYPE_UINT32,
        FieldDescriptor.CPPTYPE_UINT64,
    }
)
# Every numeric, non-repeated field of a GPU sample but its index, in wire order.
FIELDS: tuple[str, ...] = tuple(
    f.name for f in types_pb2.GpuSample.DESCRIPTOR.fields if f.name != "index" and not f.is_repeated
)
FIELD_INDEX = {name: i for i, name in enumerate(FIELDS)}
_INTEGER_FIELDS = frozenset(
    f.name for f in types_pb2.GpuSample.DESCRIPTOR.fields if f.cpp_type in _INTEGER_TYPES
)
_values_of = attrgetter("index", *FIELDS)  # one C call per sample on the ingest path


class NodeTelemetry:
    def __init__(self, gpu_count: int, slots: int) -> None:
        self.gpu_count = gpu_count
        self.slots = slots
        # float32: exact for every field's range (memory MiB < 2**24), half of float64's
        # memory, which is what a fleet's telemetry costs (docs in BENCHMARKS.md, Scale).
        self.values = np.full((slots, max(gpu_count, 1), len(FIELDS)), np.nan, dtype=np.float32)
        self.times = np.zeros(slots, dtype=np.float64)
        self.count = 0  # total samples ever written
        self.xid_events: dict[int, tuple[int, ...]] = {}  # GPU -> XIDs in its latest sample
        self.throttles: dict[str, float] = {}  # workload -> cpu fraction in force (0: frozen)
        self.clock_locks: dict[int, tuple[int, int]] = {}  # GPU -> locked (min, max) MHz

    def add(self, report: node_pb2.TelemetryReport) -> None:
        """Store a validated report (rpc/validation.check_telemetry ran first)."""
        row = self.count % self.slots
        target = self.values[row]
        rows = [_values_of(sample) for sample in report.gpus]
        target.fill(np.nan)
        if rows:
            block = np.array(rows, dtype=np.float32)
            target[block[:, 0].astype(np.intp)] = block[:, 1:]
        self.times[row] = report.time_unix
        self.count += 1
        self.xid_events = {s.index: tuple(s.xid_events) for s in report.gpus if s.xid_events}
        if report.throttles or self.throttles:
            self.throttles = {t.workload: t.cpu_fraction for t in report.throttles}
        if report.clock_locks or self.clock_locks:
            self.clock_locks = {c.gpu_index: (c.min_mhz, c.max_mhz) for c in report.clock_locks}

    def latest_row(self) -> tuple[float, np.ndarray] | None:
        """(sample time, values[gpu, field]) of the newest report; NaN where a GPU had none."""
        if self.count == 0:
            return None
        row = (self.count - 1) % self.slots
        return float(self.times[row]), self.values[row, : self.gpu_count]

    def latest(self, index: int) -> tuple[float, types_pb2.GpuSample] | None:
        """(sample time, the GPU's newest sample as the wire message), or None."""
        newest = self.latest_row()
        if newest is None or not 0 <= index < self.gpu_count:
            return None
        time_unix, values = newest
        sample = sample_of(index, values[index], self.xid_events.get(index, ()))
        return None if sample is None else (time_unix, sample)


def sample_of(
    index: int, values: np.ndarray, xid_events: tuple[int, ...] = ()
) -> types_pb2.GpuSample | None:
    """One stored row back as the wire message (None: no sample for that GPU)."""
    if np.isnan(values[0]):
        return None
    sample = types_pb2.GpuSample(index=index, xid_events=xid_events)
    for name, value in zip(FIELDS, values.tolist(), strict=True):
        setattr(sample, name, int(value) if name in _INTEGER_FIELDS else value)
    return sample


class TelemetryStore:
    def __init__(self, window_s: float, interval_s: float) -> None:
        # Room for the window at the expected rate, and a quarter more for agents that report
        # a little faster (one that reports much faster shortens its own window).
        self._slots = max(16, int(1.25 * window_s / max(interval_s, 0.05)))
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
