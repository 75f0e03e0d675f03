"""The agent's view of its GPUs: one small interface, two implementations (NVML, simulated).

Values are plain frozen dataclasses; the agent converts them to wire messages in one place.
Actuators raise `ActuationError` with a reason; the agent acks the command as failed with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntFlag
from typing import Final, Protocol

# A telemetry or inventory field the backend could not read (NVML: the call is not supported on
# this device). Signed and float fields carry this value; unsigned counters and bitmasks
# (throttle_reasons, ecc_uncorrected) stay 0 because the wire type cannot hold -1. The backend's
# state is DEGRADED and its detail names the call.
UNAVAILABLE: Final = -1


class ThrottleReason(IntFlag):
    """Why the SM clock is below its maximum: NVML's clocks-event (throttle) reason bits.

    Values are nvmlClocksEventReason* from nvidia-ml-py's pynvml.py; the simulated backend
    reports the same bits so consumers decode one vocabulary.
    """

    NONE = 0x0
    GPU_IDLE = 0x1
    APPLICATIONS_CLOCKS_SETTING = 0x2  # also set while clocks are locked
    SW_POWER_CAP = 0x4
    HW_SLOWDOWN = 0x8
    SYNC_BOOST = 0x10
    SW_THERMAL_SLOWDOWN = 0x20
    HW_THERMAL_SLOWDOWN = 0x40
    HW_POWER_BRAKE_SLOWDOWN = 0x80


class BackendStatus(Enum):
    OK = "ok"
    LIBRARY_MISSING = "library_missing"
    PERMISSION_DENIED = "permission_denied"
    NO_DEVICES = "no_devices"
    DEGRADED = "degraded"  # some calls unsupported; see detail
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class BackendState:
    kind: str  # "nvml" or "sim"
    status: BackendStatus
    detail: str = ""
    driver_version: str = ""


@dataclass(frozen=True, slots=True)
class GpuInfo:
    index: int
    uuid: str
    model: str
    memory_total_mib: int
    power_limit_min_w: float
    power_limit_max_w: float
    power_limit_default_w: float
    idle_power_w: float
    max_sm_clock_mhz: int
    nvlink_peers: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class GpuSample:
    index: int
    utilization_pct: float
    memory_used_mib: int
    power_w: float
    power_limit_w: float
    temperature_c: float
    sm_clock_mhz: int
    throttle_reasons: int = 0
    ecc_uncorrected: int = 0
    xid_events: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkloadLoad:
    """What the agent knows about a workload placed on its GPUs (drives the simulated backend)."""

    workload: str  # "namespace/name"
    gpus: tuple[int, ...]
    milli_gpu: int
    priority: int = 0
    p99_latency_target_ms: float = 0.0  # > 0: a latency service; 0: a batch job
    gpu_memory_mib: int = 0  # per GPU; 0 = unknown (the simulator then assumes its milli share)


class ActuationError(Exception):
    """An actuator could not act; `reason` is short and goes into the failed ack."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GpuBackend(Protocol):
    def state(self) -> BackendState: ...

    def inventory(self) -> list[GpuInfo]: ...

    def sample(self, now: float) -> list[GpuSample]: ...

    def set_power_limit(self, index: int, watts: float) -> None: ...

    def reset_power_limit(self, index: int) -> None: ...

    def lock_clocks(self, index: int, min_mhz: int, max_mhz: int) -> None: ...

    def reset_clocks(self, index: int) -> None: ...

    def assign(self, load: WorkloadLoad) -> None:
        """A workload was placed here. The simulated backend models its load; NVML ignores it."""
        ...

    def unassign(self, workload: str) -> None: ...

    def close(self) -> None: ...
