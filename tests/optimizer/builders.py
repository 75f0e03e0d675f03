"""Small fluent builders for optimizer snapshots: `node("n1").gpus(8, model="A100")`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from controlplane.optimizer.types import (
    Assignment,
    GpuView,
    NodeView,
    Request,
    Snapshot,
    WorkloadView,
)


@dataclass
class NodeBuilder:
    name: str
    _cpu: int = 64_000
    _mem: int = 262_144
    _gpus: list[GpuView] = field(default_factory=list)
    _ready: bool = True
    _cordoned: bool = False

    def gpus(
        self,
        n: int,
        model: str = "A100",
        memory_mib: int = 40_960,
        nvlink: Mapping[int, tuple[int, ...]] | None = None,
    ) -> NodeBuilder:
        start = len(self._gpus)
        for j in range(start, start + n):
            peers = (nvlink or {}).get(j, ())
            self._gpus.append(GpuView(j, model, memory_mib, peers))
        return self

    def cpu(self, milli: int) -> NodeBuilder:
        self._cpu = milli
        return self

    def mem(self, mib: int) -> NodeBuilder:
        self._mem = mib
        return self

    def not_ready(self) -> NodeBuilder:
        self._ready = False
        return self

    def unhealthy(self, *indices: int) -> NodeBuilder:
        self._gpus = [replace(g, healthy=False) if g.index in indices else g for g in self._gpus]
        return self

    def cordoned(self) -> NodeBuilder:
        self._cordoned = True
        return self

    def build(self) -> NodeView:
        return NodeView(
            self.name, self._cpu, self._mem, tuple(self._gpus), self._ready, self._cordoned
        )


def node(name: str) -> NodeBuilder:
    return NodeBuilder(name)


@dataclass
class WorkloadBuilder:
    key: str
    _priority: int = 0
    _created: float = 0.0
    _request: Request = field(default_factory=Request)
    _assignment: Assignment | None = None
    _service: str = ""

    def wants(
        self,
        gpus: int = 0,
        milli: int = 1000,
        cpu: int = 0,
        mem: int = 0,
        gpu_mem: int = 0,
        models: tuple[str, ...] = (),
    ) -> WorkloadBuilder:
        self._request = Request(
            gpus=gpus,
            milli_gpu=milli,
            gpu_memory_mib=gpu_mem,
            gpu_models=frozenset(models),
            cpu_milli=cpu,
            memory_mib=mem,
        )
        return self

    def priority(self, p: int) -> WorkloadBuilder:
        self._priority = p
        return self

    def created(self, t: float) -> WorkloadBuilder:
        self._created = t
        return self

    def service(self, s: str) -> WorkloadBuilder:
        self._service = s
        return self

    def on(self, node_name: str, gpus: tuple[int, ...] = (), since: float = 0.0) -> WorkloadBuilder:
        milli = self._request.milli_gpu if self._request.gpus else 0
        self._assignment = Assignment(node_name, gpus, min(milli, 1000), since)
        return self

    def build(self) -> WorkloadView:
        return WorkloadView(
            self.key, self._priority, self._request, self._created, self._assignment, self._service
        )


def workload(key: str) -> WorkloadBuilder:
    return WorkloadBuilder(key)


def snapshot(nodes: list[NodeBuilder], workloads: list[WorkloadBuilder] = ()) -> Snapshot:  # type: ignore[assignment]
    return Snapshot(tuple(n.build() for n in nodes), tuple(w.build() for w in workloads))
