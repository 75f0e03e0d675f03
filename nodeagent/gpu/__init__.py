"""The GPU boundary of the node agent."""

from __future__ import annotations

from pathlib import Path

from nodeagent.gpu.base import GpuBackend

BACKEND_KINDS = ("sim", "nvml")


def make_backend(
    kind: str,
    *,
    model: str = "H100",
    count: int = 8,
    seed: int = 0,
    node_name: str = "",
    fault_file: Path | None = None,
) -> GpuBackend:
    """The agent's GPU backend by config name: "sim" (model, count, seed, node_name, and the
    `fault_file` it reads injected faults from: gpu/sim_faults.py) or "nvml".

    Backends are imported here, on demand, so choosing "sim" never touches pynvml.
    An unknown kind or model raises ValueError with the accepted values.
    """
    if kind == "sim":
        from gpumodel.models import UnknownGpuModelError
        from nodeagent.gpu.sim import SimulatedGpuBackend

        try:
            return SimulatedGpuBackend(
                model, count, seed=seed, node_name=node_name, fault_file=fault_file
            )
        except UnknownGpuModelError as exc:
            raise ValueError(str(exc)) from exc
    if kind == "nvml":
        from nodeagent.gpu.nvml import NvmlBackend

        return NvmlBackend()
    raise ValueError(f"unknown GPU backend {kind!r}; expected one of: {', '.join(BACKEND_KINDS)}")


__all__ = ["BACKEND_KINDS", "GpuBackend", "make_backend"]
