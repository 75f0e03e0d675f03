"""The optimizer's boundary: an immutable snapshot in, a plan out.

Nothing here imports grpc, etcd or asyncio. The controller builds a `Snapshot` from its
watch-fed cache; the benchmark builds one from a trace; both call the same `optimize`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MILLI_PER_GPU = 1000


@dataclass(frozen=True, slots=True)
class GpuView:
    """One GPU of a node, as the optimizer sees it (capacity only; usage comes from placements)."""

    index: int
    model: str
    memory_total_mib: int
    nvlink_peers: tuple[int, ...] = ()
    healthy: bool = True  # False: a fatal XID or new uncorrected ECC errors (docs/health.md)


@dataclass(frozen=True, slots=True)
class NodeView:
    name: str
    cpu_milli: int
    memory_mib: int
    gpus: tuple[GpuView, ...]
    ready: bool = True
    cordoned: bool = False
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Request:
    """What one workload needs.

    `gpus` whole GPUs, or with `gpus == 1` and `milli_gpu < 1000` a share of one GPU.
    `gpu_memory_mib` is per GPU. An empty `gpu_models` accepts any model.
    """

    gpus: int = 0
    milli_gpu: int = MILLI_PER_GPU
    gpu_memory_mib: int = 0
    gpu_models: frozenset[str] = frozenset()
    cpu_milli: int = 0
    memory_mib: int = 0

    @property
    def gpu_milli_total(self) -> int:
        return self.gpus * self.milli_gpu


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where a placed workload runs."""

    node: str
    gpus: tuple[int, ...]
    milli_gpu: int
    since: float  # unix seconds when it was placed


@dataclass(frozen=True, slots=True)
class WorkloadView:
    key: str  # "namespace/name"
    priority: int
    request: Request
    created: float
    assignment: Assignment | None = None  # None = pending
    service: str = ""  # replicas of one service spread across nodes
    p99_latency_target_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    nodes: tuple[NodeView, ...]
    workloads: tuple[WorkloadView, ...]


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class Candidate:
    node: str
    score: float
    gpus: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Placement:
    workload: str
    node: str
    gpus: tuple[int, ...]
    milli_gpu: int
    score: float
    reason: str  # one line for people, e.g. "fgd: best of 7 feasible nodes (score 61)"
    candidates: tuple[Candidate, ...] = ()  # best first, a few


@dataclass(frozen=True, slots=True)
class Unschedulable:
    """A workload that fits nowhere now. `rejections` counts nodes per filter reason."""

    workload: str
    reason: str  # e.g. "0/1213 nodes fit: 811 insufficient GPU memory, 402 GPU model not accepted"
    rejections: tuple[tuple[str, int], ...]
    never: bool = False  # True when no node could ever host it, even empty


@dataclass(frozen=True, slots=True)
class Preemption:
    victim: str
    for_workload: str
    reason: str
    gpu_seconds_lost: float


@dataclass(frozen=True, slots=True)
class Plan:
    placements: tuple[Placement, ...] = ()
    unschedulable: tuple[Unschedulable, ...] = ()
    preemptions: tuple[Preemption, ...] = ()
    notes: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------- explain


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a workload is pending, or why it went where it is (see `explain`)."""

    workload: str
    nodes_total: int
    nodes_feasible: int
    rejections: tuple[tuple[str, int], ...]  # (reason, nodes), most nodes first
    candidates: tuple[Candidate, ...]  # best first
    summary: str  # e.g. "0/1213 nodes fit: 811 insufficient GPU memory, 402 GPU model not accepted"
    assignment: Assignment | None = None
    never: bool = False  # no node could host it even empty
