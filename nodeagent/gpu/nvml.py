"""The NVML backend: real GPUs through nvidia-ml-py's `pynvml`, with explicit states, never a crash.

`pynvml` is imported when the backend starts, not when this module is imported; tests pass a
module object instead (the one fake this project allows: pynvml's calls, replaced at this
boundary). What can go wrong, and what the agent then reports:

- pynvml or libnvidia-ml.so missing (ImportError, NVML_ERROR_LIBRARY_NOT_FOUND): LIBRARY_MISSING
- NVML_ERROR_NO_PERMISSION from nvmlInit, or for every device handle: PERMISSION_DENIED
- no devices, or the driver not loaded: NO_DEVICES
- any other failure to start: ERROR
- a call NOT_SUPPORTED (or missing from the driver) on a device: the field keeps its sentinel
  (base.UNAVAILABLE, or 0 for counters/bitmasks), the call is not retried on that device, and
  the state is DEGRADED with a detail naming the call; other per-call errors also give DEGRADED
  until the same call succeeds again.

Units: NVML reports power in milliwatts and memory in bytes; this module converts to W and MiB.
NVML itself is thread-safe; one lock keeps this class's bookkeeping consistent while the agent
samples from a worker thread and runs commands from another.
"""

from __future__ import annotations

import importlib
import math
import threading
from typing import Any

from gpumodel.models import UnknownGpuModelError, get_model, model_from_nvml_name
from nodeagent.gpu.base import (
    UNAVAILABLE,
    ActuationError,
    BackendState,
    BackendStatus,
    GpuInfo,
    GpuSample,
    WorkloadLoad,
)

_MIB = 1024 * 1024
_MAX_EVENTS_PER_SAMPLE = 64  # bound the drain loop; a storm of XIDs is reported in batches
_DETAIL_MAX_CHARS = 400


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class NvmlBackend:
    """`GpuBackend` over NVML. Construct it, then read `state()`; nothing here raises."""

    def __init__(self, nvml_module: Any | None = None) -> None:
        self._nvml: Any = nvml_module
        self._status = BackendStatus.OK
        self._detail = ""
        self._driver = ""
        self._initialized = False
        self._handles: dict[int, Any] = {}
        self._event_sets: dict[int, Any] = {}
        self._inventory: list[GpuInfo] = []
        self._unsupported: set[tuple[str, int]] = set()  # (call, gpu index)
        self._problems: dict[tuple[str, int], str] = {}  # (call, gpu index) -> last error
        self._lock = threading.RLock()
        self._start()

    # ------------------------------------------------------------------ start and state

    def _start(self) -> None:
        if self._nvml is None:
            try:
                self._nvml = importlib.import_module("pynvml")
            except ImportError as exc:
                self._fail(BackendStatus.LIBRARY_MISSING, f"pynvml not importable: {exc}")
                return
        nvml = self._nvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            self._fail(self._init_status(exc), f"nvmlInit: {exc}")
            return
        except OSError as exc:  # a broken libnvidia-ml.so can surface from ctypes directly
            self._fail(BackendStatus.LIBRARY_MISSING, f"nvmlInit: {exc}")
            return
        self._initialized = True
        try:
            self._driver = _text(nvml.nvmlSystemGetDriverVersion())
        except nvml.NVMLError:
            self._driver = ""
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except nvml.NVMLError as exc:
            self._fail(self._init_status(exc), f"nvmlDeviceGetCount: {exc}")
            return
        if count == 0:
            self._fail(BackendStatus.NO_DEVICES, "NVML reports no GPUs")
            return
        self._open_handles(count)
        if not self._handles:
            return
        self._inventory = self._read_inventory()
        for index in self._handles:
            self._register_xid_events(index)

    def _init_status(self, exc: Exception) -> BackendStatus:
        code = getattr(exc, "value", None)
        nvml = self._nvml
        if code == nvml.NVML_ERROR_LIBRARY_NOT_FOUND:
            return BackendStatus.LIBRARY_MISSING
        if code == nvml.NVML_ERROR_NO_PERMISSION:
            return BackendStatus.PERMISSION_DENIED
        if code == nvml.NVML_ERROR_DRIVER_NOT_LOADED:
            return BackendStatus.NO_DEVICES  # library present, no driver: no usable GPU here
        return BackendStatus.ERROR

    def _open_handles(self, count: int) -> None:
        nvml = self._nvml
        denied = []
        for index in range(count):
            try:
                self._handles[index] = nvml.nvmlDeviceGetHandleByIndex(index)
            except nvml.NVMLError as exc:
                if getattr(exc, "value", None) == nvml.NVML_ERROR_NO_PERMISSION:
                    denied.append(index)
                self._problems[("nvmlDeviceGetHandleByIndex", index)] = str(exc)
        if not self._handles:
            status = BackendStatus.PERMISSION_DENIED if denied else BackendStatus.ERROR
            self._fail(status, self._problem_detail())

    def _fail(self, status: BackendStatus, detail: str) -> None:
        self._status, self._detail = status, detail

    def state(self) -> BackendState:
        with self._lock:
            if self._status is not BackendStatus.OK:
                return BackendState("nvml", self._status, self._detail, self._driver)
            if self._unsupported or self._problems:
                detail = self._problem_detail()
                return BackendState("nvml", BackendStatus.DEGRADED, detail, self._driver)
            return BackendState("nvml", BackendStatus.OK, "", self._driver)

    def _problem_detail(self) -> str:
        parts = []
        unsupported: dict[str, list[int]] = {}
        for call, index in sorted(self._unsupported):
            unsupported.setdefault(call, []).append(index)
        if unsupported:
            calls = "; ".join(
                f"{c} (gpu {', '.join(map(str, ix))})" for c, ix in unsupported.items()
            )
            parts.append(f"not supported: {calls}")
        for (call, index), error in sorted(self._problems.items()):
            parts.append(f"gpu {index}: {call}: {error}")
        detail = "; ".join(parts)
        return detail if len(detail) <= _DETAIL_MAX_CHARS else detail[: _DETAIL_MAX_CHARS - 1] + "…"

    # ------------------------------------------------------------------ guarded reads

    def _unsupported_codes(self) -> tuple[int, ...]:
        return (self._nvml.NVML_ERROR_NOT_SUPPORTED, self._nvml.NVML_ERROR_FUNCTION_NOT_FOUND)

    def _read(self, index: int, calls: tuple[str, ...], *args: Any, default: Any) -> Any:
        """Call the first of `calls` the driver supports; `default` when none can answer.

        Alternatives cover renamed calls (ClocksEventReasons replaced ClocksThrottleReasons).
        """
        label = calls[0]
        if (label, index) in self._unsupported:
            return default
        for name in calls:
            fn = getattr(self._nvml, name, None)
            if fn is None:  # an older pynvml without this binding
                continue
            try:
                value = fn(*args)
            except self._nvml.NVMLError as exc:
                if getattr(exc, "value", None) in self._unsupported_codes():
                    continue
                self._problems[(label, index)] = str(exc)
                return default
            self._problems.pop((label, index), None)
            return value
        self._unsupported.add((label, index))
        return default

    # ------------------------------------------------------------------ inventory

    def _read_inventory(self) -> list[GpuInfo]:
        nvml = self._nvml
        bus_ids = {i: self._bus_id(h) for i, h in self._handles.items()}
        links = {i: self._nvlink_remotes(h) for i, h in self._handles.items()}
        on_switch = {i for i, (_, switch) in links.items() if switch}
        infos = []
        for index, h in self._handles.items():
            name = _text(self._read(index, ("nvmlDeviceGetName",), h, default="unknown"))
            model = model_from_nvml_name(name)
            memory = self._read(index, ("nvmlDeviceGetMemoryInfo",), h, default=None)
            limits = self._read(
                index, ("nvmlDeviceGetPowerManagementLimitConstraints",), h, default=None
            )
            default_mw = self._read(
                index, ("nvmlDeviceGetPowerManagementDefaultLimit",), h, default=None
            )
            max_sm = self._read(
                index, ("nvmlDeviceGetMaxClockInfo",), h, nvml.NVML_CLOCK_SM, default=UNAVAILABLE
            )
            remotes, switch = links[index]
            peers = {j for j, bus in bus_ids.items() if bus and bus in remotes}
            if switch:  # NVSwitch fabric: every GPU on the switches reaches every other
                peers |= on_switch
            peers.discard(index)
            infos.append(
                GpuInfo(
                    index=index,
                    uuid=_text(self._read(index, ("nvmlDeviceGetUUID",), h, default="")),
                    model=model,
                    memory_total_mib=int(memory.total) // _MIB if memory else UNAVAILABLE,
                    power_limit_min_w=limits[0] / 1000.0 if limits else UNAVAILABLE,
                    power_limit_max_w=limits[1] / 1000.0 if limits else UNAVAILABLE,
                    power_limit_default_w=default_mw / 1000.0 if default_mw else UNAVAILABLE,
                    idle_power_w=self._table_idle_w(model),
                    max_sm_clock_mhz=int(max_sm),
                    nvlink_peers=tuple(sorted(peers)),
                )
            )
        return infos

    @staticmethod
    def _table_idle_w(model: str) -> float:
        # NVML has no idle-power query; the model table's value is the best prior we have.
        try:
            return get_model(model).idle_power_w
        except UnknownGpuModelError:
            return UNAVAILABLE

    def _bus_id(self, handle: Any) -> str:
        try:
            return _text(self._nvml.nvmlDeviceGetPciInfo(handle).busId).upper()
        except (self._nvml.NVMLError, AttributeError):
            return ""

    def _nvlink_remotes(self, handle: Any) -> tuple[set[str], bool]:
        """PCI bus ids at the far end of active links, and whether any link reaches a switch.

        NVLink is optional hardware, so errors here (NOT_SUPPORTED on PCIe parts) only mean
        "no peers" and never degrade the backend.
        """
        nvml = self._nvml
        remotes: set[str] = set()
        switch = False
        for link in range(int(getattr(nvml, "NVML_NVLINK_MAX_LINKS", 18))):
            try:
                if nvml.nvmlDeviceGetNvLinkState(handle, link) != nvml.NVML_FEATURE_ENABLED:
                    continue
            except (nvml.NVMLError, AttributeError):
                continue
            try:
                kind = nvml.nvmlDeviceGetNvLinkRemoteDeviceType(handle, link)
                if kind == nvml.NVML_NVLINK_DEVICE_TYPE_SWITCH:
                    switch = True
                    continue
            except (nvml.NVMLError, AttributeError):
                pass  # older drivers: fall back to matching the remote bus id
            try:
                remotes.add(
                    _text(nvml.nvmlDeviceGetNvLinkRemotePciInfo(handle, link).busId).upper()
                )
            except (nvml.NVMLError, AttributeError):
                continue
        return remotes, switch

    def inventory(self) -> list[GpuInfo]:
        return list(self._inventory)

    # ------------------------------------------------------------------ telemetry

    def _register_xid_events(self, index: int) -> None:
        nvml = self._nvml
        try:
            event_set = nvml.nvmlEventSetCreate()
        except (nvml.NVMLError, AttributeError):
            self._unsupported.add(("nvmlEventSetCreate", index))
            return
        try:
            nvml.nvmlDeviceRegisterEvents(
                self._handles[index], nvml.nvmlEventTypeXidCriticalError, event_set
            )
        except nvml.NVMLError as exc:
            if getattr(exc, "value", None) in self._unsupported_codes():
                self._unsupported.add(("nvmlDeviceRegisterEvents", index))
            else:
                self._problems[("nvmlDeviceRegisterEvents", index)] = str(exc)
            self._free_event_set(event_set)
            return
        self._event_sets[index] = event_set

    def _poll_xids(self, index: int) -> tuple[int, ...]:
        event_set = self._event_sets.get(index)
        if event_set is None:
            return ()
        nvml = self._nvml
        xids = []
        for _ in range(_MAX_EVENTS_PER_SAMPLE):
            try:
                data = nvml.nvmlEventSetWait(event_set, 0)  # 0 ms: never block the sampler
            except nvml.NVMLError as exc:
                if getattr(exc, "value", None) != nvml.NVML_ERROR_TIMEOUT:
                    self._problems[("nvmlEventSetWait", index)] = str(exc)
                break
            if int(data.eventType) & nvml.nvmlEventTypeXidCriticalError:
                xids.append(int(data.eventData))
        return tuple(xids)

    def sample(self, now: float) -> list[GpuSample]:
        """Read every GPU now (`now` is not needed: NVML reports the present)."""
        with self._lock:
            del now
            return [self._sample_one(index, h) for index, h in self._handles.items()]

    def _sample_one(self, index: int, h: Any) -> GpuSample:
        nvml = self._nvml
        util = self._read(index, ("nvmlDeviceGetUtilizationRates",), h, default=None)
        memory = self._read(index, ("nvmlDeviceGetMemoryInfo",), h, default=None)
        power_mw = self._read(index, ("nvmlDeviceGetPowerUsage",), h, default=None)
        limit_mw = self._read(index, ("nvmlDeviceGetEnforcedPowerLimit",), h, default=None)
        temp = self._read(
            index, ("nvmlDeviceGetTemperature",), h, nvml.NVML_TEMPERATURE_GPU, default=UNAVAILABLE
        )
        clock = self._read(
            index, ("nvmlDeviceGetClockInfo",), h, nvml.NVML_CLOCK_SM, default=UNAVAILABLE
        )
        reasons = self._read(
            index,
            ("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"),
            h,
            default=0,
        )
        ecc = self._read(
            index,
            ("nvmlDeviceGetTotalEccErrors",),
            h,
            nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
            nvml.NVML_VOLATILE_ECC,  # since the driver loaded: new errors show as increases
            default=0,
        )
        return GpuSample(
            index=index,
            utilization_pct=float(util.gpu) if util is not None else float(UNAVAILABLE),
            memory_used_mib=int(memory.used) // _MIB if memory is not None else UNAVAILABLE,
            power_w=power_mw / 1000.0 if power_mw is not None else float(UNAVAILABLE),
            power_limit_w=limit_mw / 1000.0 if limit_mw is not None else float(UNAVAILABLE),
            temperature_c=float(temp),
            sm_clock_mhz=int(clock),
            throttle_reasons=int(reasons),
            ecc_uncorrected=int(ecc),
            xid_events=self._poll_xids(index),
        )

    def power_limit_w(self, index: int) -> float:
        """The power limit currently set on GPU `index` (W), or UNAVAILABLE."""
        with self._lock:
            h = self._handles.get(index)
            if h is None:
                return float(UNAVAILABLE)
            mw = self._read(index, ("nvmlDeviceGetPowerManagementLimit",), h, default=None)
            return mw / 1000.0 if mw is not None else float(UNAVAILABLE)

    # ------------------------------------------------------------------ actuators

    def _handle_for(self, index: int) -> Any:
        if self._status is not BackendStatus.OK:
            raise ActuationError(f"nvml {self._status.value}: {self._detail}")
        h = self._handles.get(index)
        if h is None:
            raise ActuationError(f"no GPU {index} on this node")
        return h

    def _info(self, index: int) -> GpuInfo:
        return next(g for g in self._inventory if g.index == index)

    def _act(self, index: int, call: str, *args: Any) -> None:
        nvml = self._nvml
        fn = getattr(nvml, call, None)
        if fn is None:
            raise ActuationError(f"not supported: {call} missing from pynvml")
        try:
            fn(*args)
        except nvml.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code == nvml.NVML_ERROR_NO_PERMISSION:
                raise ActuationError(f"not permitted: {call} on GPU {index} ({exc})") from exc
            if code in self._unsupported_codes():
                raise ActuationError(f"not supported: {call} on GPU {index} ({exc})") from exc
            if code == nvml.NVML_ERROR_INVALID_ARGUMENT:
                raise ActuationError(f"invalid argument: {call} on GPU {index} ({exc})") from exc
            raise ActuationError(f"{call} failed on GPU {index}: {exc}") from exc

    def set_power_limit(self, index: int, watts: float) -> None:
        with self._lock:
            h = self._handle_for(index)
            info = self._info(index)
            lo, hi = info.power_limit_min_w, info.power_limit_max_w
            if not math.isfinite(watts) or watts <= 0:
                raise ActuationError(f"power limit {watts} W is not a positive number")
            if lo != UNAVAILABLE and not lo <= watts <= hi:
                raise ActuationError(
                    f"power limit {watts:g} W outside [{lo:g}, {hi:g}] W for {info.model}"
                )
            self._act(index, "nvmlDeviceSetPowerManagementLimit", h, round(watts * 1000))

    def reset_power_limit(self, index: int) -> None:
        with self._lock:
            h = self._handle_for(index)
            default_w = self._info(index).power_limit_default_w
            if default_w == UNAVAILABLE:
                raise ActuationError(
                    f"not supported: default power limit of GPU {index} is unknown"
                )
            self._act(index, "nvmlDeviceSetPowerManagementLimit", h, round(default_w * 1000))

    def lock_clocks(self, index: int, min_mhz: int, max_mhz: int) -> None:
        with self._lock:
            h = self._handle_for(index)
            info = self._info(index)
            if not 0 < min_mhz <= max_mhz:
                raise ActuationError(f"clock range {min_mhz}-{max_mhz} MHz is not a valid range")
            if info.max_sm_clock_mhz != UNAVAILABLE and max_mhz > info.max_sm_clock_mhz:
                raise ActuationError(
                    f"clock range {min_mhz}-{max_mhz} MHz above the maximum "
                    f"{info.max_sm_clock_mhz} MHz for {info.model}"
                )
            self._act(index, "nvmlDeviceSetGpuLockedClocks", h, min_mhz, max_mhz)

    def reset_clocks(self, index: int) -> None:
        with self._lock:
            self._act(index, "nvmlDeviceResetGpuLockedClocks", self._handle_for(index))

    # ------------------------------------------------------------------ the rest

    def assign(self, load: WorkloadLoad) -> None:
        """Real GPUs measure their load; nothing to model."""

    def unassign(self, workload: str) -> None:
        """Real GPUs measure their load; nothing to model."""

    def _free_event_set(self, event_set: Any) -> None:
        try:
            self._nvml.nvmlEventSetFree(event_set)
        except (self._nvml.NVMLError, AttributeError):
            pass

    def close(self) -> None:
        """Free event sets and shut NVML down; safe to call twice."""
        with self._lock:
            for event_set in self._event_sets.values():
                self._free_event_set(event_set)
            self._event_sets.clear()
            self._handles.clear()
            if self._status is BackendStatus.OK:
                self._fail(BackendStatus.ERROR, "closed")
            if self._initialized:
                self._initialized = False
                try:
                    self._nvml.nvmlShutdown()
                except self._nvml.NVMLError:
                    pass
