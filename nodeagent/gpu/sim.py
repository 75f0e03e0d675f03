"""A simulated node's GPUs: telemetry that follows from the load placed on them and their caps.

The equations are perf.py's (docs/gpu-model.md); the parameters come from models.py. Load
comes from `assign` / `unassign`:

- a batch job (no p99 target) fills its share: busy for milli / 1000 of the time, drawing the
  training power (P_dem = max limit);
- a latency service (p99 target > 0) is busy for LATENCY_SERVICE_DUTY of its share unless told
  otherwise with `set_duty_cycle` (the agent or a benchmark knows the real request rate), drawing
  decode power (P_dem = 0.55 x max limit). When a cap slows it, the same requests keep the GPU
  busy longer: its duty grows by 1 / throughput, up to its share.

Every GPU's uncapped power is the duty-weighted mix of its workloads' P_dem; the cap clips it
and slows all work on that GPU by the fitted throughput curve. A clock lock acts like the cap
that gives the same speed. Temperature relaxes toward a steady value (first order); energy is
integrated between samples (trapezoid). Small Gaussian noise, from a generator seeded at
construction, is added to utilization, power and temperature, so `sample(now)` is a pure
function of the seed, the load and the sequence of `now` values. A `now` earlier than the
previous one (a wall clock stepped back) counts as no time passing.

The agent samples from a worker thread while commands arrive on its event loop, so every
public method holds one lock.
"""

from __future__ import annotations

import math
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gpumodel import perf
from gpumodel.models import GpuModel, get_model
from nodeagent.gpu.base import (
    ActuationError,
    BackendState,
    BackendStatus,
    GpuInfo,
    GpuSample,
    ThrottleReason,
    WorkloadLoad,
)
from nodeagent.gpu.sim_faults import take_faults

# Busy fraction of its share for a latency service with no measured duty [E]: serving traffic
# with headroom for its p99 target leaves it idle about half the time.
LATENCY_SERVICE_DUTY = 0.5

# Noise standard deviations (absolute units); small enough not to move any decision.
_UTIL_NOISE_PCT = 0.5
_POWER_NOISE_FRACTION = 0.005
_TEMP_NOISE_C = 0.1

# Stable fake UUIDs: uuid5 of "node/index" under this namespace, printed NVML-style ("GPU-...").
_UUID_NAMESPACE = uuid.UUID("6f1c2c1e-8a51-4a7e-9c3e-61776f2d7369")


@dataclass(frozen=True, slots=True)
class SimGpuView:
    """The noiseless state of one simulated GPU, for benchmarks and tests."""

    index: int
    power_limit_w: float
    clock_lock_mhz: tuple[int, int] | None
    demand_power_w: float  # uncapped average power of its load (after any clock lock)
    power_w: float  # min(cap, demand)
    throughput_factor: float  # work done relative to uncapped and unlocked, in [0, 1]
    utilization: float  # busy fraction in [0, 1]
    sm_clock_mhz: int
    duty_cycles: dict[str, float]  # workload -> its SM time fraction (after any slowdown)


@dataclass(slots=True)
class _Gpu:
    power_limit_w: float
    temperature_c: float
    clock_lock_mhz: tuple[int, int] | None = None
    last_now: float | None = None
    last_power_w: float = 0.0
    energy_j: float = 0.0
    pending_xids: list[int] = field(default_factory=list)
    ecc_uncorrected: int = 0
    forced_throttle: int = 0  # throttle-reason bits injected (sim_faults.py)


class SimulatedGpuBackend:
    """`GpuBackend` for a node of `count` identical simulated GPUs."""

    def __init__(
        self,
        model: str | GpuModel,
        count: int,
        seed: int = 0,
        node_name: str = "",
        thermal: perf.ThermalParams | None = None,
        noise: bool = True,
        fault_file: Path | None = None,
    ) -> None:
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        self._model = model if isinstance(model, GpuModel) else get_model(model)
        self._count = count
        self._node_name = node_name
        self._thermal = thermal or perf.ThermalParams()
        self._noise = noise
        self._rng = np.random.default_rng(seed)
        idle_temp = perf.steady_temperature_c(
            self._model.idle_power_w, self._model.power_limit_max_w, self._thermal
        )
        self._gpus = [_Gpu(self._model.power_limit_default_w, idle_temp) for _ in range(count)]
        self._loads: dict[str, WorkloadLoad] = {}
        self._duty_override: dict[str, float] = {}
        self._lock = threading.RLock()
        self._fault_file = fault_file  # read before each sample (sim_faults.py)

    @property
    def model(self) -> GpuModel:
        return self._model

    # ------------------------------------------------------------------ GpuBackend

    def state(self) -> BackendState:
        return BackendState("sim", BackendStatus.OK, f"simulated {self._count}x {self._model.name}")

    def inventory(self) -> list[GpuInfo]:
        m = self._model
        return [
            GpuInfo(
                index=i,
                uuid=self._uuid(i),
                model=m.name,
                memory_total_mib=m.memory_total_mib,
                power_limit_min_w=m.power_limit_min_w,
                power_limit_max_w=m.power_limit_max_w,
                power_limit_default_w=m.power_limit_default_w,
                idle_power_w=m.idle_power_w,
                max_sm_clock_mhz=m.max_sm_clock_mhz,
                nvlink_peers=self._nvlink_peers(i),
            )
            for i in range(self._count)
        ]

    def sample(self, now: float) -> list[GpuSample]:
        with self._lock:
            if self._fault_file is not None:
                self._apply_faults(self._fault_file)
            return [self._sample_gpu(i, now) for i in range(self._count)]

    def set_power_limit(self, index: int, watts: float) -> None:
        with self._lock:
            gpu = self._actuated_gpu(index)
            m = self._model
            if not (math.isfinite(watts) and m.power_limit_min_w <= watts <= m.power_limit_max_w):
                raise ActuationError(
                    f"power limit {watts:g} W outside [{m.power_limit_min_w:g}, "
                    f"{m.power_limit_max_w:g}] W for {m.name}"
                )
            gpu.power_limit_w = float(watts)

    def reset_power_limit(self, index: int) -> None:
        with self._lock:
            self._actuated_gpu(index).power_limit_w = self._model.power_limit_default_w

    def lock_clocks(self, index: int, min_mhz: int, max_mhz: int) -> None:
        with self._lock:
            gpu = self._actuated_gpu(index)
            m = self._model
            if min_mhz > max_mhz:
                raise ActuationError(f"clock range {min_mhz}-{max_mhz} MHz: min above max")
            if min_mhz < m.min_sm_clock_mhz or max_mhz > m.max_sm_clock_mhz:
                raise ActuationError(
                    f"clock range {min_mhz}-{max_mhz} MHz outside [{m.min_sm_clock_mhz}, "
                    f"{m.max_sm_clock_mhz}] MHz for {m.name}"
                )
            gpu.clock_lock_mhz = (min_mhz, max_mhz)

    def reset_clocks(self, index: int) -> None:
        with self._lock:
            self._actuated_gpu(index).clock_lock_mhz = None

    def assign(self, load: WorkloadLoad) -> None:
        """Place (or replace) a workload's load. Bad indices or shares are caller bugs."""
        with self._lock:
            for index in load.gpus:
                if not 0 <= index < self._count:
                    raise ValueError(f"{load.workload}: no GPU {index} (node has {self._count})")
            if not 0 <= load.milli_gpu <= 1000:
                raise ValueError(f"{load.workload}: milli_gpu {load.milli_gpu} outside [0, 1000]")
            self._loads[load.workload] = load

    def unassign(self, workload: str) -> None:
        with self._lock:
            self._loads.pop(workload, None)
            self._duty_override.pop(workload, None)

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ simulator-only

    def set_duty_cycle(self, workload: str, duty_cycle: float) -> None:
        """Tell the simulator how busy a latency service is (fraction of the whole GPU's time,
        uncapped), e.g. request rate x service time. Clipped to its share when used."""
        with self._lock:
            if workload not in self._loads:
                raise KeyError(f"workload {workload!r} is not assigned here")
            if not (math.isfinite(duty_cycle) and duty_cycle >= 0.0):
                raise ValueError(f"duty_cycle {duty_cycle} must be finite and >= 0")
            self._duty_override[workload] = duty_cycle

    def view(self, index: int) -> SimGpuView:
        """The noiseless state of GPU `index` right now."""
        with self._lock:
            gpu = self._gpu(index)
            m = self._model
            ratio = 1.0
            if gpu.clock_lock_mhz is not None:
                ratio = perf.clock_ratio(gpu.clock_lock_mhz[1], m.max_sm_clock_mhz)
            loads = self._loads_on(index)
            base = [self._base_duty(load) for load in loads]
            demands = [self._demand_w(load, ratio) for load in loads]
            demand_w = perf.mixed_demand_power_w(m.idle_power_w, base, demands)
            cap_thr = perf.throughput_factor(
                gpu.power_limit_w, demand_w, m.curve_p0_w, m.curve_alpha
            )
            thr = ratio * cap_thr
            duties = self._slowed_duties(loads, base, thr)
            clock = round(m.max_sm_clock_mhz * thr) if duties and sum(duties) > 0 else None
            return SimGpuView(
                index=index,
                power_limit_w=gpu.power_limit_w,
                clock_lock_mhz=gpu.clock_lock_mhz,
                demand_power_w=demand_w,
                power_w=min(gpu.power_limit_w, demand_w),
                throughput_factor=thr,
                utilization=min(1.0, sum(duties)),
                # Idle clocks are not modelled: an idle GPU reports its ceiling.
                sm_clock_mhz=clock if clock is not None else round(m.max_sm_clock_mhz * ratio),
                duty_cycles={load.workload: d for load, d in zip(loads, duties, strict=True)},
            )

    def throughput_factor(self, index: int) -> float:
        """What the cap and clock lock on GPU `index` do to the work on it (1.0 = full speed)."""
        return self.view(index).throughput_factor

    def service_time_ms(self, workload: str, index: int, alone_service_time_ms: float) -> float:
        """A request's service time for `workload` on GPU `index`: time-sliced with the other
        workloads there and slowed by the GPU's cap (perf.timeslice_service_time_ms)."""
        v = self.view(index)
        if workload not in v.duty_cycles:
            raise KeyError(f"workload {workload!r} is not on GPU {index}")
        others = [d for name, d in v.duty_cycles.items() if name != workload]
        return perf.timeslice_service_time_ms(
            alone_service_time_ms, others, throughput=v.throughput_factor
        )

    def energy_j(self, index: int) -> float:
        """Energy GPU `index` used between the first and the latest `sample`."""
        with self._lock:
            return self._gpu(index).energy_j

    def inject_xid(self, index: int, xid: int) -> None:
        """Fault injection: the next sample of GPU `index` reports this XID event."""
        with self._lock:
            self._gpu(index).pending_xids.append(xid)

    def inject_ecc_errors(self, index: int, count: int = 1) -> None:
        """Fault injection: add uncorrected ECC errors to GPU `index`'s counter."""
        with self._lock:
            self._gpu(index).ecc_uncorrected += count

    def inject_throttle(self, index: int, reasons: int) -> None:
        """Fault injection: force these throttle-reason bits on GPU `index` (0 clears)."""
        with self._lock:
            self._gpu(index).forced_throttle = reasons

    def _apply_faults(self, path: Path) -> None:
        for fault in take_faults(path):
            if not 0 <= fault.gpu < self._count:
                continue  # a GPU this node lacks: nothing to fault
            if fault.kind == "xid":
                self.inject_xid(fault.gpu, fault.value)
            elif fault.kind == "ecc":
                self.inject_ecc_errors(fault.gpu, fault.value)
            else:
                self.inject_throttle(fault.gpu, fault.value)

    # ------------------------------------------------------------------ internals

    def _gpu(self, index: int) -> _Gpu:
        if not 0 <= index < self._count:
            raise IndexError(f"no GPU {index} on this node ({self._count} GPUs)")
        return self._gpus[index]

    def _actuated_gpu(self, index: int) -> _Gpu:
        """Like `_gpu`, for actuators: a bad index is a failed command, not a crash."""
        if not 0 <= index < self._count:
            raise ActuationError(f"no GPU {index} on this node ({self._count} GPUs)")
        return self._gpus[index]

    def _uuid(self, index: int) -> str:
        return f"GPU-{uuid.uuid5(_UUID_NAMESPACE, f'{self._node_name}/{index}')}"

    def _nvlink_peers(self, index: int) -> tuple[int, ...]:
        # SXM boards (HGX/DGX) join their GPUs through NVSwitch: all-to-all. V100 SXM2 boards
        # are really a hybrid cube-mesh; docs/gpu-model.md lists this simplification.
        if self._model.form_factor != "sxm":
            return ()
        return tuple(j for j in range(self._count) if j != index)

    def _loads_on(self, index: int) -> list[WorkloadLoad]:
        return [load for load in self._loads.values() if index in load.gpus]

    @staticmethod
    def _share(load: WorkloadLoad) -> float:
        return (load.milli_gpu or 1000) / 1000.0

    def _base_duty(self, load: WorkloadLoad) -> float:
        share = self._share(load)
        if load.p99_latency_target_ms <= 0.0:
            return share
        return min(share, self._duty_override.get(load.workload, LATENCY_SERVICE_DUTY * share))

    def _demand_w(self, load: WorkloadLoad, clock_ratio: float) -> float:
        m = self._model
        fraction = (
            perf.LATENCY_DEMAND_FRACTION
            if load.p99_latency_target_ms > 0.0
            else perf.BATCH_DEMAND_FRACTION
        )
        demand = max(m.idle_power_w, fraction * m.power_limit_max_w)
        locked = perf.clock_locked_demand_power_w(demand, clock_ratio, m.curve_p0_w, m.curve_alpha)
        return max(m.idle_power_w, locked)

    def _slowed_duties(
        self, loads: list[WorkloadLoad], base: list[float], thr: float
    ) -> list[float]:
        """Latency services stay busy longer when slowed (same requests); batch jobs don't."""
        out = []
        for load, duty in zip(loads, base, strict=True):
            if load.p99_latency_target_ms > 0.0 and duty > 0.0:
                duty = self._share(load) if thr <= 0.0 else min(self._share(load), duty / thr)
            out.append(duty)
        return perf.sm_time_shares(out)

    def _memory_used_mib(self, index: int) -> int:
        total = self._model.memory_total_mib
        used = 0
        for load in self._loads_on(index):
            used += load.gpu_memory_mib or round(self._share(load) * total)
        return min(total, used)

    def _sample_gpu(self, index: int, now: float) -> GpuSample:
        gpu = self._gpus[index]
        m = self._model
        v = self.view(index)
        # A wall clock stepped back: no time passed (energy and temperature stand still).
        dt = 0.0 if gpu.last_now is None else max(0.0, now - gpu.last_now)
        gpu.energy_j += perf.energy_j(0.5 * (gpu.last_power_w + v.power_w), dt)
        gpu.temperature_c = perf.temperature_step_c(
            gpu.temperature_c, v.power_w, dt, m.power_limit_max_w, self._thermal
        )
        gpu.last_now, gpu.last_power_w = now, v.power_w

        # Always draw three values per GPU so the stream depends only on the call sequence.
        n_util, n_power, n_temp = self._rng.standard_normal(3) if self._noise else (0.0, 0.0, 0.0)
        util_pct = 100.0 * v.utilization
        if util_pct > 0.0:
            util_pct = min(100.0, max(0.0, util_pct + _UTIL_NOISE_PCT * n_util))
        power = min(v.power_limit_w, max(0.0, v.power_w * (1.0 + _POWER_NOISE_FRACTION * n_power)))

        reasons = ThrottleReason.NONE
        if v.utilization == 0.0:
            reasons |= ThrottleReason.GPU_IDLE
        if v.demand_power_w > v.power_limit_w:
            reasons |= ThrottleReason.SW_POWER_CAP
        if v.clock_lock_mhz is not None:
            reasons |= ThrottleReason.APPLICATIONS_CLOCKS_SETTING
        reasons |= gpu.forced_throttle
        xids, gpu.pending_xids = tuple(gpu.pending_xids), []
        return GpuSample(
            index=index,
            utilization_pct=round(util_pct, 2),
            memory_used_mib=self._memory_used_mib(index),
            power_w=round(power, 2),
            power_limit_w=v.power_limit_w,
            temperature_c=round(gpu.temperature_c + _TEMP_NOISE_C * n_temp, 2),
            sm_clock_mhz=v.sm_clock_mhz,
            throttle_reasons=int(reasons),
            ecc_uncorrected=gpu.ecc_uncorrected,
            xid_events=xids,
        )
