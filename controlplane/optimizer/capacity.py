"""Cluster capacity as numpy arrays, one per node attribute, updated in place per placement.

Every filter and score plugin reads these arrays for all nodes at once; a placement changes one
row. The controller builds the state from a `Snapshot`; the benchmark builds it from a trace's
node list and then places pods one by one. Both run the same plugins on it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from controlplane.optimizer.demand import Demand
from controlplane.optimizer.types import MILLI_PER_GPU, NodeView, WorkloadView


def stable_priority(names: Sequence[str], seed: int) -> np.ndarray:
    """A fixed pseudo-random node priority for ties, stable across snapshots for one seed.

    Stability matters: ties that always fall to the same nodes fill those nodes first, which
    packs; a fresh random tie-break scatters work (FGD lands near 10 % unallocated with it).
    """
    return np.array([zlib.crc32(f"{seed}:{n}".encode()) for n in names], dtype=np.int64)


@dataclass
class CapacityArrays:
    names: tuple[str, ...]
    models: tuple[str, ...]  # model id -> name
    cpu_total: np.ndarray  # int64[N], milli-CPU
    mem_total: np.ndarray  # int64[N], MiB
    gpu_present: np.ndarray  # bool[N, G]
    gpu_model: np.ndarray  # int16[N, G], model id, -1 where the node has no such GPU
    gpu_mem_total: np.ndarray  # int64[N, G], MiB
    ready: np.ndarray  # bool[N]
    cordoned: np.ndarray  # bool[N]
    tie_priority: np.ndarray  # int64[N]; among equal scores the highest wins
    nvlink: tuple[tuple[tuple[int, ...], ...] | None, ...]  # per node: peers per GPU, or None
    gpu_healthy: np.ndarray | None = None  # bool[N, G]; None: every GPU present is healthy
    # Free capacity and summaries, changed row by row by `allocate` / `release`.
    cpu_free: np.ndarray = field(init=False)
    mem_free: np.ndarray = field(init=False)
    gpu_free: np.ndarray = field(init=False)  # int32[N, G], milli share free; 0 where absent
    gpu_mem_free: np.ndarray = field(init=False)
    gpu_free_total: np.ndarray = field(init=False)  # int64[N]
    full_free: np.ndarray = field(init=False)  # int32[N], completely free GPUs
    gpu_count: np.ndarray = field(init=False)  # int32[N]
    node_model: np.ndarray = field(init=False)  # int16[N], model of GPU 0 (-1: no GPU)
    affinity: np.ndarray = field(init=False)  # int32[N, G+1], GPU pods per shape tag
    version: np.ndarray = field(init=False)  # int64[N], bumped on every change of a row
    service_counts: dict[str, np.ndarray] = field(init=False)  # replicas per node
    # int32[N, G]: replicas of any service (latency work, Demand.service) on each GPU; the
    # placement core keeps a new replica off a GPU another one uses (optimize.py).
    gpu_latency: np.ndarray = field(init=False)
    model_ids: dict[str, int] = field(init=False)
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        n, g = self.gpu_present.shape
        if self.gpu_healthy is None:
            self.gpu_healthy = self.gpu_present.copy()
        self.cpu_free = self.cpu_total.copy()
        self.mem_free = self.mem_total.copy()
        self.gpu_free = np.where(self.gpu_present, MILLI_PER_GPU, 0).astype(np.int32)
        self.gpu_mem_free = self.gpu_mem_total.copy()
        self.gpu_count = self.gpu_present.sum(axis=1).astype(np.int32)
        self.gpu_free_total = self.gpu_free.sum(axis=1).astype(np.int64)
        self.full_free = self.gpu_count.copy()
        self.node_model = self.gpu_model[:, 0].copy() if g else np.full(n, -1, np.int16)
        self.affinity = np.zeros((n, g + 1), dtype=np.int32)
        self.version = np.zeros(n, dtype=np.int64)
        self.service_counts = {}
        self.gpu_latency = np.zeros((n, g), dtype=np.int32)
        self.model_ids = {m: i for i, m in enumerate(self.models)}
        self.index = {name: i for i, name in enumerate(self.names)}

    # ------------------------------------------------------------ building

    @classmethod
    def of_nodes(
        cls, nodes: Sequence[NodeView], tie_priority: np.ndarray | None = None, seed: int = 0
    ) -> CapacityArrays:
        n = len(nodes)
        counts = np.fromiter((len(node.gpus) for node in nodes), dtype=np.int64, count=n)
        g = int(counts.max(initial=0)) or 1
        # One flat pass over every GPU, then one scatter per array: a cluster holds
        # thousands of GPUs, and element-wise numpy stores cost ~100 ns each.
        flat = [gpu for node in nodes for gpu in node.gpus]
        models: dict[str, int] = {}
        rows = np.repeat(np.arange(n), counts)
        cols = np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)
        present = np.zeros((n, g), dtype=bool)
        present[rows, cols] = True
        model = np.full((n, g), -1, dtype=np.int16)
        model[rows, cols] = [models.setdefault(gpu.model, len(models)) for gpu in flat]
        gmem = np.zeros((n, g), dtype=np.int64)
        gmem[rows, cols] = [gpu.memory_total_mib for gpu in flat]
        healthy = present.copy()
        if not all(gpu.healthy for gpu in flat):
            healthy[rows, cols] = [gpu.healthy for gpu in flat]
        nvlink: list[tuple[tuple[int, ...], ...] | None] = []
        for node in nodes:
            has_links = any(gpu.nvlink_peers for gpu in node.gpus)
            nvlink.append(tuple(gpu.nvlink_peers for gpu in node.gpus) if has_links else None)
        names = tuple(node.name for node in nodes)
        return cls(
            names=names,
            models=tuple(models),
            cpu_total=np.array([node.cpu_milli for node in nodes], dtype=np.int64),
            mem_total=np.array([node.memory_mib for node in nodes], dtype=np.int64),
            gpu_present=present,
            gpu_model=model,
            gpu_mem_total=gmem,
            ready=np.array([node.ready for node in nodes], dtype=bool),
            cordoned=np.array([node.cordoned for node in nodes], dtype=bool),
            tie_priority=tie_priority if tie_priority is not None else stable_priority(names, seed),
            nvlink=tuple(nvlink),
            gpu_healthy=healthy,
        )

    def empty_copy(self) -> CapacityArrays:
        """The same nodes with nothing placed on them (static arrays shared, not copied)."""
        return CapacityArrays(
            names=self.names,
            models=self.models,
            cpu_total=self.cpu_total,
            mem_total=self.mem_total,
            gpu_present=self.gpu_present,
            gpu_model=self.gpu_model,
            gpu_mem_total=self.gpu_mem_total,
            ready=self.ready,
            cordoned=self.cordoned,
            tie_priority=self.tie_priority,
            nvlink=self.nvlink,
            gpu_healthy=self.gpu_healthy,
        )

    def apply(self, workloads: Iterable[tuple[WorkloadView, Demand]]) -> list[str]:
        """Take the capacity of placed workloads; returns the keys whose node is unknown.

        Vectorised (one bincount per attribute) because a snapshot holds thousands of them;
        the Python loop only collects indices. GPU indices a node does not have are ignored.
        """
        unknown: list[str] = []
        rows: list[int] = []
        kinds: list[int] = []  # index into `distinct`, per workload
        n_gpus: list[int] = []
        gpu_cols: list[int] = []
        services: list[tuple[int, str]] = []
        latency_cells: list[tuple[int, int]] = []  # (node, GPU) per GPU a replica holds
        distinct: dict[int, tuple[int, Demand]] = {}  # id(demand): Demand.of shares objects
        index = self.index
        for w, d in workloads:
            a = w.assignment
            if a is None:
                continue
            i = index.get(a.node)
            if i is None:
                unknown.append(w.key)
                continue
            rows.append(i)
            kind = distinct.get(id(d))
            if kind is None:
                kind = distinct[id(d)] = (len(distinct), d)
            kinds.append(kind[0])
            n_gpus.append(len(a.gpus))
            gpu_cols.extend(a.gpus)
            if d.service:
                services.append((i, d.service))
                latency_cells.extend((i, j) for j in a.gpus)
        if not rows:
            return unknown
        n, g = self.gpu_present.shape
        ds = [d for _, d in distinct.values()]
        r = np.asarray(rows, dtype=np.int64)
        k = np.asarray(kinds, dtype=np.int64)

        def per_workload(attr: str) -> np.ndarray:
            return np.array([getattr(d, attr) for d in ds], dtype=np.int64)[k]

        self.cpu_free -= np.bincount(r, per_workload("cpu_milli"), n).astype(np.int64)
        self.mem_free -= np.bincount(r, per_workload("memory_mib"), n).astype(np.int64)
        if gpu_cols:
            counts = np.asarray(n_gpus, dtype=np.int64)
            gr = np.repeat(r, counts)
            gc = np.asarray(gpu_cols, dtype=np.int64)
            valid = (gc >= 0) & (gc < g)
            valid[valid] &= self.gpu_present[gr[valid], gc[valid]]
            flat = (gr * g + gc)[valid]
            milli = np.repeat(per_workload("milli"), counts)[valid]
            gmem = np.repeat(per_workload("gpu_memory_mib"), counts)[valid]
            self.gpu_free -= np.bincount(flat, milli, n * g).reshape(n, g).astype(np.int32)
            self.gpu_mem_free -= np.bincount(flat, gmem, n * g).reshape(n, g).astype(np.int64)
        tags = per_workload("shape_tag")
        ok = (tags >= 0) & (tags < self.affinity.shape[1])
        np.add.at(self.affinity, (r[ok], tags[ok]), 1)
        for i, service in services:
            svc = self.service_counts.setdefault(service, np.zeros(n, np.int32))
            svc[i] += 1
        for i, j in latency_cells:
            if 0 <= j < g:
                self.gpu_latency[i, j] += 1
        self.gpu_free_total = self.gpu_free.sum(axis=1).astype(np.int64)
        self.full_free = np.count_nonzero(
            (self.gpu_free >= MILLI_PER_GPU) & self.gpu_present, axis=1
        ).astype(np.int32)
        self.version += np.bincount(r, minlength=n)
        return unknown

    # ------------------------------------------------------------ changes

    def allocate(self, i: int, gpus: Sequence[int], demand: Demand) -> None:
        self._change(i, gpus, demand, +1)

    def release(self, i: int, gpus: Sequence[int], demand: Demand) -> None:
        self._change(i, gpus, demand, -1)

    def _change(self, i: int, gpus: Sequence[int], d: Demand, sign: int) -> None:
        self.cpu_free[i] -= sign * d.cpu_milli
        self.mem_free[i] -= sign * d.memory_mib
        for j in gpus:
            self.gpu_free[i, j] -= sign * d.milli
            self.gpu_mem_free[i, j] -= sign * d.gpu_memory_mib
        if gpus:
            row = self.gpu_free[i]
            self.gpu_free_total[i] = int(row.sum())
            self.full_free[i] = int(np.count_nonzero(row[self.gpu_present[i]] >= MILLI_PER_GPU))
        tag = d.shape_tag
        if 0 <= tag < self.affinity.shape[1]:
            self.affinity[i, tag] += sign
        if d.service:
            counts = self.service_counts.setdefault(d.service, np.zeros(len(self.names), np.int32))
            counts[i] += sign
            for j in gpus:
                self.gpu_latency[i, j] += sign
        self.version[i] += 1

    # ------------------------------------------------------------ views

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def gpu_capacity_milli(self) -> int:
        return int(self.gpu_count.sum()) * MILLI_PER_GPU

    def accepted_gpus(self, demand: Demand) -> np.ndarray:
        """bool[N, G]: GPUs present and of a model the demand accepts."""
        if not demand.models:
            return self.gpu_present
        ids = [self.model_ids[m] for m in demand.models if m in self.model_ids]
        if not ids:
            return np.zeros_like(self.gpu_present)
        return np.isin(self.gpu_model, ids) & self.gpu_present

    def accepted_models(self, models: frozenset[str]) -> np.ndarray:
        """bool[M]: which model ids a model constraint accepts."""
        if not models:
            return np.ones(len(self.models), dtype=bool)
        return np.array([m in models for m in self.models], dtype=bool)
