"""NvmlBackend against pynvml replaced at the module boundary (the project's only allowed fake).

`FakeNvml` carries the real pynvml error classes and constants, so the backend's error mapping
is tested against exactly what the binding raises; only the calls into libnvidia-ml are fake.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml
import pytest

from nodeagent.gpu.base import UNAVAILABLE, ActuationError, BackendStatus, GpuBackend
from nodeagent.gpu.nvml import NvmlBackend

MIB = 1024 * 1024


@dataclass
class FakeDevice:
    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    bus_id: str = "00000000:18:00.0"
    memory_total_b: int = 81559 * MIB
    memory_used_b: int = 1024 * MIB
    limit_min_mw: int = 200_000
    limit_max_mw: int = 700_000
    limit_default_mw: int = 700_000
    limit_mw: int = 700_000
    max_sm_mhz: int = 1980
    sm_mhz: int = 1755
    util_pct: int = 42
    power_mw: int = 312_500
    temperature_c: int = 51
    reasons: int = 0x4  # SW power cap
    ecc_uncorrected: int = 0
    locked_clocks: tuple[int, int] | None = None
    # NVLink: (active, remote bus id or None for a switch). Empty: NOT_SUPPORTED (PCIe).
    nvlinks: list[tuple[bool, str | None]] = field(default_factory=list)
    xids: list[int] = field(default_factory=list)


class FakeNvml:
    """Stands in for the `pynvml` module. `fail[(call, device index)] = NVML error code`."""

    def __init__(
        self,
        devices: list[FakeDevice] | None = None,
        init_error: int | None = None,
        missing: tuple[str, ...] = (),
    ) -> None:
        for name, value in vars(pynvml).items():
            if name.startswith(("NVML_", "NVMLError", "nvmlEventType")):
                setattr(self, name, value)
        self.devices = devices if devices is not None else [FakeDevice()]
        self.init_error = init_error
        self.fail: dict[tuple[str, int | None], int] = {}
        self.calls: list[str] = []
        self.shutdowns = 0
        self._missing = set(missing)

    def __getattribute__(self, name: str) -> Any:
        # Simulate an older pynvml that lacks a binding.
        if name.startswith("nvml") and name in object.__getattribute__(self, "_missing"):
            raise AttributeError(name)
        return object.__getattribute__(self, name)

    def _enter(self, call: str, handle: FakeDevice | None = None) -> None:
        self.calls.append(call)
        index = self.devices.index(handle) if handle is not None else None
        code = self.fail.get((call, index), self.fail.get((call, None)))
        if code is not None:
            raise pynvml.NVMLError(code)

    # ---- library
    def nvmlInit(self) -> None:
        self._enter("nvmlInit")
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return "550.54.15"

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeDevice:
        self.calls.append("nvmlDeviceGetHandleByIndex")
        code = self.fail.get(("nvmlDeviceGetHandleByIndex", index))
        if code is not None:
            raise pynvml.NVMLError(code)
        return self.devices[index]

    # ---- inventory
    def nvmlDeviceGetName(self, h: FakeDevice) -> str:
        self._enter("nvmlDeviceGetName", h)
        return h.name

    def nvmlDeviceGetUUID(self, h: FakeDevice) -> str:
        self._enter("nvmlDeviceGetUUID", h)
        return h.uuid

    def nvmlDeviceGetPciInfo(self, h: FakeDevice) -> Any:
        self._enter("nvmlDeviceGetPciInfo", h)
        return SimpleNamespace(busId=h.bus_id.encode())  # the real struct holds bytes

    def nvmlDeviceGetMemoryInfo(self, h: FakeDevice) -> Any:
        self._enter("nvmlDeviceGetMemoryInfo", h)
        return SimpleNamespace(total=h.memory_total_b, used=h.memory_used_b)

    def nvmlDeviceGetPowerManagementLimitConstraints(self, h: FakeDevice) -> list[int]:
        self._enter("nvmlDeviceGetPowerManagementLimitConstraints", h)
        return [h.limit_min_mw, h.limit_max_mw]

    def nvmlDeviceGetPowerManagementDefaultLimit(self, h: FakeDevice) -> int:
        self._enter("nvmlDeviceGetPowerManagementDefaultLimit", h)
        return h.limit_default_mw

    def nvmlDeviceGetPowerManagementLimit(self, h: FakeDevice) -> int:
        self._enter("nvmlDeviceGetPowerManagementLimit", h)
        return h.limit_mw

    def nvmlDeviceGetMaxClockInfo(self, h: FakeDevice, clock: int) -> int:
        self._enter("nvmlDeviceGetMaxClockInfo", h)
        assert clock == pynvml.NVML_CLOCK_SM
        return h.max_sm_mhz

    def _link(self, call: str, h: FakeDevice, link: int) -> tuple[bool, str | None]:
        self._enter(call, h)
        if not h.nvlinks:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        if link >= len(h.nvlinks):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return h.nvlinks[link]

    def nvmlDeviceGetNvLinkState(self, h: FakeDevice, link: int) -> int:
        active, _ = self._link("nvmlDeviceGetNvLinkState", h, link)
        return pynvml.NVML_FEATURE_ENABLED if active else pynvml.NVML_FEATURE_DISABLED

    def nvmlDeviceGetNvLinkRemoteDeviceType(self, h: FakeDevice, link: int) -> int:
        _, remote = self._link("nvmlDeviceGetNvLinkRemoteDeviceType", h, link)
        if remote is None:
            return pynvml.NVML_NVLINK_DEVICE_TYPE_SWITCH
        return pynvml.NVML_NVLINK_DEVICE_TYPE_GPU

    def nvmlDeviceGetNvLinkRemotePciInfo(self, h: FakeDevice, link: int) -> Any:
        _, remote = self._link("nvmlDeviceGetNvLinkRemotePciInfo", h, link)
        return SimpleNamespace(busId=(remote or "").encode())

    # ---- telemetry
    def nvmlDeviceGetUtilizationRates(self, h: FakeDevice) -> Any:
        self._enter("nvmlDeviceGetUtilizationRates", h)
        return SimpleNamespace(gpu=h.util_pct, memory=10)

    def nvmlDeviceGetPowerUsage(self, h: FakeDevice) -> int:
        self._enter("nvmlDeviceGetPowerUsage", h)
        return h.power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, h: FakeDevice) -> int:
        self._enter("nvmlDeviceGetEnforcedPowerLimit", h)
        return h.limit_mw

    def nvmlDeviceGetTemperature(self, h: FakeDevice, sensor: int) -> int:
        self._enter("nvmlDeviceGetTemperature", h)
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return h.temperature_c

    def nvmlDeviceGetClockInfo(self, h: FakeDevice, clock: int) -> int:
        self._enter("nvmlDeviceGetClockInfo", h)
        assert clock == pynvml.NVML_CLOCK_SM
        return h.sm_mhz

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: FakeDevice) -> int:
        self._enter("nvmlDeviceGetCurrentClocksEventReasons", h)
        return h.reasons

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, h: FakeDevice) -> int:
        self._enter("nvmlDeviceGetCurrentClocksThrottleReasons", h)
        return h.reasons

    def nvmlDeviceGetTotalEccErrors(self, h: FakeDevice, error_type: int, counter: int) -> int:
        self._enter("nvmlDeviceGetTotalEccErrors", h)
        assert error_type == pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
        assert counter == pynvml.NVML_VOLATILE_ECC
        return h.ecc_uncorrected

    # ---- events
    def nvmlEventSetCreate(self) -> list[FakeDevice]:
        self._enter("nvmlEventSetCreate")
        return []

    def nvmlDeviceRegisterEvents(self, h: FakeDevice, types: int, event_set: list[Any]) -> None:
        self._enter("nvmlDeviceRegisterEvents", h)
        assert types & pynvml.nvmlEventTypeXidCriticalError
        event_set.append(h)

    def nvmlEventSetWait(self, event_set: list[FakeDevice], timeout_ms: int) -> Any:
        self._enter("nvmlEventSetWait")
        assert timeout_ms == 0, "the sampler must never block"
        for h in event_set:
            if h.xids:
                return SimpleNamespace(
                    device=h,
                    eventType=pynvml.nvmlEventTypeXidCriticalError,
                    eventData=h.xids.pop(0),
                )
        raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)

    def nvmlEventSetFree(self, event_set: list[FakeDevice]) -> None:
        self.calls.append("nvmlEventSetFree")

    # ---- actuators (real NVML checks the range too)
    def nvmlDeviceSetPowerManagementLimit(self, h: FakeDevice, limit_mw: int) -> None:
        self._enter("nvmlDeviceSetPowerManagementLimit", h)
        if not h.limit_min_mw <= limit_mw <= h.limit_max_mw:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        h.limit_mw = limit_mw

    def nvmlDeviceSetGpuLockedClocks(self, h: FakeDevice, lo: int, hi: int) -> None:
        self._enter("nvmlDeviceSetGpuLockedClocks", h)
        h.locked_clocks = (lo, hi)

    def nvmlDeviceResetGpuLockedClocks(self, h: FakeDevice) -> None:
        self._enter("nvmlDeviceResetGpuLockedClocks", h)
        h.locked_clocks = None


def hgx(n: int = 8) -> list[FakeDevice]:
    """n GPUs on an NVSwitch fabric (every link ends at a switch)."""
    switch_links: list[tuple[bool, str | None]] = [(True, None)] * 18
    return [
        FakeDevice(
            uuid=f"GPU-{i:08d}", bus_id=f"00000000:{0x18 + i:02X}:00.0", nvlinks=switch_links
        )
        for i in range(n)
    ]


# ---------------------------------------------------------------------- states


def test_healthy_node_is_ok_with_inventory() -> None:
    backend: GpuBackend = NvmlBackend(FakeNvml(hgx(2)))
    state = backend.state()
    assert (state.kind, state.status, state.detail) == ("nvml", BackendStatus.OK, "")
    assert state.driver_version == "550.54.15"
    inv = backend.inventory()
    assert [g.index for g in inv] == [0, 1]
    g = inv[0]
    assert (g.model, g.uuid, g.memory_total_mib) == ("H100", "GPU-00000000", 81559)
    assert (g.power_limit_min_w, g.power_limit_max_w, g.power_limit_default_w) == (200, 700, 700)
    assert g.max_sm_clock_mhz == 1980
    assert g.idle_power_w == 75  # from the model table: NVML has no idle-power query
    assert g.nvlink_peers == (1,)


def test_library_missing_from_nvml() -> None:
    backend = NvmlBackend(FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND))
    assert backend.state().status is BackendStatus.LIBRARY_MISSING
    assert "NVML Shared Library Not Found" in backend.state().detail
    assert backend.inventory() == [] and backend.sample(0.0) == []
    with pytest.raises(ActuationError, match="library_missing"):
        backend.set_power_limit(0, 300)


def test_pynvml_not_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    state = NvmlBackend().state()
    assert state.status is BackendStatus.LIBRARY_MISSING
    assert "pynvml not importable" in state.detail


def test_real_pynvml_on_this_machine_reports_a_state_not_a_crash() -> None:
    backend = NvmlBackend()
    try:
        state = backend.state()
        assert state.kind == "nvml"
        if state.status is BackendStatus.LIBRARY_MISSING:  # no NVIDIA driver here
            assert backend.inventory() == [] and backend.sample(0.0) == []
    finally:
        backend.close()


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (pynvml.NVML_ERROR_NO_PERMISSION, BackendStatus.PERMISSION_DENIED),
        (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, BackendStatus.NO_DEVICES),
        (pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, BackendStatus.ERROR),
        (pynvml.NVML_ERROR_UNKNOWN, BackendStatus.ERROR),
    ],
)
def test_init_errors_map_to_states(code: int, status: BackendStatus) -> None:
    backend = NvmlBackend(FakeNvml(init_error=code))
    assert backend.state().status is status
    assert backend.state().detail.startswith("nvmlInit: ")


def test_no_devices() -> None:
    backend = NvmlBackend(FakeNvml(devices=[]))
    assert backend.state().status is BackendStatus.NO_DEVICES
    assert backend.inventory() == []


def test_permission_denied_for_every_device_handle() -> None:
    fake = FakeNvml(hgx(2))
    fake.fail[("nvmlDeviceGetHandleByIndex", 0)] = pynvml.NVML_ERROR_NO_PERMISSION
    fake.fail[("nvmlDeviceGetHandleByIndex", 1)] = pynvml.NVML_ERROR_NO_PERMISSION
    state = NvmlBackend(fake).state()
    assert state.status is BackendStatus.PERMISSION_DENIED
    assert "Insufficient Permissions" in state.detail


def test_one_unreachable_device_degrades_and_the_rest_work() -> None:
    fake = FakeNvml(hgx(2))
    fake.fail[("nvmlDeviceGetHandleByIndex", 1)] = pynvml.NVML_ERROR_NO_PERMISSION
    backend = NvmlBackend(fake)
    assert backend.state().status is BackendStatus.DEGRADED
    assert "gpu 1: nvmlDeviceGetHandleByIndex" in backend.state().detail
    assert [s.index for s in backend.sample(0.0)] == [0]


def test_unsupported_call_leaves_sentinel_and_degrades_naming_the_call() -> None:
    fake = FakeNvml()
    fake.fail[("nvmlDeviceGetPowerUsage", 0)] = pynvml.NVML_ERROR_NOT_SUPPORTED
    fake.fail[("nvmlDeviceGetTotalEccErrors", 0)] = pynvml.NVML_ERROR_NOT_SUPPORTED
    backend = NvmlBackend(fake)
    s = backend.sample(0.0)[0]
    assert s.power_w == UNAVAILABLE
    assert s.ecc_uncorrected == 0  # unsigned on the wire: stays 0
    assert s.utilization_pct == 42.0 and s.temperature_c == 51.0  # the rest keeps working
    state = backend.state()
    assert state.status is BackendStatus.DEGRADED
    assert "nvmlDeviceGetPowerUsage (gpu 0)" in state.detail
    assert "nvmlDeviceGetTotalEccErrors (gpu 0)" in state.detail
    # An unsupported call is not retried on every sample.
    before = fake.calls.count("nvmlDeviceGetPowerUsage")
    backend.sample(1.0)
    assert fake.calls.count("nvmlDeviceGetPowerUsage") == before


def test_unsupported_inventory_fields_use_sentinels() -> None:
    fake = FakeNvml()
    fake.fail[("nvmlDeviceGetPowerManagementLimitConstraints", 0)] = pynvml.NVML_ERROR_NOT_SUPPORTED
    fake.fail[("nvmlDeviceGetMaxClockInfo", 0)] = pynvml.NVML_ERROR_NOT_SUPPORTED
    backend = NvmlBackend(fake)
    g = backend.inventory()[0]
    assert g.power_limit_min_w == UNAVAILABLE and g.power_limit_max_w == UNAVAILABLE
    assert g.max_sm_clock_mhz == UNAVAILABLE
    assert backend.state().status is BackendStatus.DEGRADED


def test_transient_error_degrades_until_the_call_succeeds_again() -> None:
    fake = FakeNvml()
    backend = NvmlBackend(fake)
    fake.fail[("nvmlDeviceGetTemperature", 0)] = pynvml.NVML_ERROR_GPU_IS_LOST
    assert backend.sample(0.0)[0].temperature_c == UNAVAILABLE
    assert "gpu 0: nvmlDeviceGetTemperature: GPU is lost" in backend.state().detail
    del fake.fail[("nvmlDeviceGetTemperature", 0)]
    assert backend.sample(1.0)[0].temperature_c == 51.0
    assert backend.state().status is BackendStatus.OK


def test_throttle_reasons_fall_back_to_the_older_call() -> None:
    fake = FakeNvml(missing=("nvmlDeviceGetCurrentClocksEventReasons",))
    backend = NvmlBackend(fake)
    assert backend.sample(0.0)[0].throttle_reasons == 0x4
    assert backend.state().status is BackendStatus.OK
    fake2 = FakeNvml()
    fake2.fail[("nvmlDeviceGetCurrentClocksEventReasons", 0)] = (
        pynvml.NVML_ERROR_FUNCTION_NOT_FOUND  # old driver
    )
    assert NvmlBackend(fake2).sample(0.0)[0].throttle_reasons == 0x4


# ---------------------------------------------------------------------- telemetry


def test_sample_converts_units() -> None:
    s = NvmlBackend(FakeNvml()).sample(123.0)[0]
    assert s.utilization_pct == 42.0
    assert s.memory_used_mib == 1024
    assert s.power_w == 312.5 and s.power_limit_w == 700.0
    assert s.temperature_c == 51.0 and s.sm_clock_mhz == 1755
    assert s.throttle_reasons == 0x4 and s.ecc_uncorrected == 0
    assert s.xid_events == ()


def test_xid_events_are_drained_once() -> None:
    devices = hgx(2)
    devices[1].xids = [79, 48]
    backend = NvmlBackend(FakeNvml(devices))
    first = backend.sample(0.0)
    assert first[0].xid_events == () and first[1].xid_events == (79, 48)
    assert backend.sample(1.0)[1].xid_events == ()


def test_xid_registration_unsupported_degrades() -> None:
    fake = FakeNvml()
    fake.fail[("nvmlDeviceRegisterEvents", 0)] = pynvml.NVML_ERROR_NOT_SUPPORTED
    backend = NvmlBackend(fake)
    assert backend.sample(0.0)[0].xid_events == ()
    assert "nvmlDeviceRegisterEvents (gpu 0)" in backend.state().detail
    assert "nvmlEventSetFree" in fake.calls


def test_ecc_counter_reported() -> None:
    devices = [FakeDevice(ecc_uncorrected=3)]
    assert NvmlBackend(FakeNvml(devices)).sample(0.0)[0].ecc_uncorrected == 3


def test_nvlink_peers_by_remote_bus_id_without_switch() -> None:
    a = FakeDevice(bus_id="00000000:18:00.0", nvlinks=[(True, "00000000:2A:00.0"), (False, None)])
    b = FakeDevice(bus_id="00000000:2A:00.0", nvlinks=[(True, "00000000:18:00.0")])
    c = FakeDevice(bus_id="00000000:3B:00.0")  # PCIe only: NVLink NOT_SUPPORTED
    backend = NvmlBackend(FakeNvml([a, b, c]))
    assert [g.nvlink_peers for g in backend.inventory()] == [(1,), (0,), ()]
    assert backend.state().status is BackendStatus.OK  # no NVLink is not a degradation


def test_nvswitch_fabric_is_all_to_all() -> None:
    inv = NvmlBackend(FakeNvml(hgx(8))).inventory()
    assert inv[5].nvlink_peers == (0, 1, 2, 3, 4, 6, 7)


# ---------------------------------------------------------------------- actuators


def test_set_and_reset_power_limit_in_milliwatts() -> None:
    fake = FakeNvml()
    backend = NvmlBackend(fake)
    backend.set_power_limit(0, 450)
    assert fake.devices[0].limit_mw == 450_000
    assert backend.power_limit_w(0) == 450.0
    assert backend.sample(0.0)[0].power_limit_w == 450.0
    backend.reset_power_limit(0)
    assert fake.devices[0].limit_mw == 700_000


def test_power_limit_is_validated_before_nvml_is_called() -> None:
    fake = FakeNvml()
    backend = NvmlBackend(fake)
    with pytest.raises(ActuationError) as info:
        backend.set_power_limit(0, 50)
    assert info.value.reason == "power limit 50 W outside [200, 700] W for H100"
    with pytest.raises(ActuationError, match="not a positive number"):
        backend.set_power_limit(0, float("nan"))
    assert "nvmlDeviceSetPowerManagementLimit" not in fake.calls
    with pytest.raises(ActuationError, match="no GPU 3"):
        backend.set_power_limit(3, 300)


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        (pynvml.NVML_ERROR_NO_PERMISSION, "not permitted: "),
        (pynvml.NVML_ERROR_NOT_SUPPORTED, "not supported: "),
        (pynvml.NVML_ERROR_INVALID_ARGUMENT, "invalid argument: "),
        (pynvml.NVML_ERROR_GPU_IS_LOST, "nvmlDeviceSetPowerManagementLimit failed on GPU 0: "),
    ],
)
def test_power_limit_errors_map_to_reasons(code: int, prefix: str) -> None:
    fake = FakeNvml()
    backend = NvmlBackend(fake)
    fake.fail[("nvmlDeviceSetPowerManagementLimit", 0)] = code
    with pytest.raises(ActuationError) as info:
        backend.set_power_limit(0, 400)
    assert info.value.reason.startswith(prefix)
    assert backend.state().status is BackendStatus.OK  # a refused command is not a fault
    assert fake.devices[0].limit_mw == 700_000


def test_lock_and_reset_clocks() -> None:
    fake = FakeNvml()
    backend = NvmlBackend(fake)
    backend.lock_clocks(0, 800, 1400)
    assert fake.devices[0].locked_clocks == (800, 1400)
    backend.reset_clocks(0)
    assert fake.devices[0].locked_clocks is None
    with pytest.raises(ActuationError, match="above the maximum 1980 MHz"):
        backend.lock_clocks(0, 800, 2500)
    with pytest.raises(ActuationError, match="not a valid range"):
        backend.lock_clocks(0, 1400, 800)


@pytest.mark.parametrize(
    ("call", "code", "prefix"),
    [
        ("nvmlDeviceSetGpuLockedClocks", pynvml.NVML_ERROR_NO_PERMISSION, "not permitted: "),
        ("nvmlDeviceSetGpuLockedClocks", pynvml.NVML_ERROR_NOT_SUPPORTED, "not supported: "),
        ("nvmlDeviceResetGpuLockedClocks", pynvml.NVML_ERROR_NO_PERMISSION, "not permitted: "),
    ],
)
def test_clock_errors_map_to_reasons(call: str, code: int, prefix: str) -> None:
    fake = FakeNvml()
    backend = NvmlBackend(fake)
    fake.fail[(call, 0)] = code
    with pytest.raises(ActuationError) as info:
        if call == "nvmlDeviceSetGpuLockedClocks":
            backend.lock_clocks(0, 800, 1400)
        else:
            backend.reset_clocks(0)
    assert info.value.reason.startswith(prefix)
    assert call in info.value.reason


def test_missing_binding_is_not_supported() -> None:
    backend = NvmlBackend(FakeNvml(missing=("nvmlDeviceSetGpuLockedClocks",)))
    with pytest.raises(ActuationError, match="not supported: nvmlDeviceSetGpuLockedClocks"):
        backend.lock_clocks(0, 800, 1400)


def test_reset_power_limit_without_known_default() -> None:
    fake = FakeNvml()
    fake.fail[("nvmlDeviceGetPowerManagementDefaultLimit", 0)] = pynvml.NVML_ERROR_NOT_SUPPORTED
    backend = NvmlBackend(fake)
    with pytest.raises(ActuationError, match="not supported: default power limit"):
        backend.reset_power_limit(0)


def test_close_frees_event_sets_and_shuts_down_once() -> None:
    fake = FakeNvml(hgx(2))
    backend = NvmlBackend(fake)
    backend.close()
    backend.close()
    assert fake.shutdowns == 1
    assert fake.calls.count("nvmlEventSetFree") == 2
    assert backend.sample(0.0) == []
    with pytest.raises(ActuationError):
        backend.set_power_limit(0, 400)
