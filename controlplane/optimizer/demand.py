"""A request normalised once for the vectorised plugins."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from controlplane.optimizer.types import MILLI_PER_GPU, Request


@dataclass(frozen=True, slots=True)
class Demand:
    """What one workload needs, in the units the state arrays use.

    `milli` is the share needed on each of `gpus` GPUs: 1000 means whole, completely free GPUs;
    less than 1000 with `gpus == 1` shares one GPU. CPU-only work has `gpus == 0` and `milli == 0`.
    """

    cpu_milli: int = 0
    memory_mib: int = 0
    gpus: int = 0
    milli: int = 0
    gpu_memory_mib: int = 0
    models: frozenset[str] = frozenset()  # empty: any model
    service: str = ""

    @classmethod
    def of(cls, request: Request, service: str = "") -> Demand:
        return _demand_of(request, service)

    @property
    def shared(self) -> bool:
        return self.gpus == 1 and self.milli < MILLI_PER_GPU

    @property
    def whole(self) -> bool:
        return self.gpus >= 1 and self.milli >= MILLI_PER_GPU

    @property
    def gpu_milli_total(self) -> int:
        return self.gpus * self.milli

    @property
    def shape_tag(self) -> int:
        """GpuClustering's affinity tag: 0 for a shared GPU, k for k whole GPUs, -1 CPU-only."""
        if self.gpus == 0:
            return -1
        return 0 if self.shared else self.gpus


# Snapshots repeat a few hundred request shapes over thousands of workloads: build each once.
@lru_cache(maxsize=65_536)
def _demand_of(request: Request, service: str) -> Demand:
    gpus = max(0, request.gpus)
    # The trace has shares above 1000; a GPU cannot give more than all of itself.
    milli = min(max(0, request.milli_gpu), MILLI_PER_GPU) if gpus else 0
    return Demand(
        cpu_milli=max(0, request.cpu_milli),
        memory_mib=max(0, request.memory_mib),
        gpus=gpus,
        milli=milli,
        gpu_memory_mib=max(0, request.gpu_memory_mib) if gpus else 0,
        models=request.gpu_models,
        service=service,
    )
