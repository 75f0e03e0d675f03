"""GPU health rules: which telemetry makes a GPU unhealthy, and which throttles are shown.

Pure functions plus a small per-node memory of the last ECC count (docs/health.md). The rules
follow what users of DCGM health checks expect:

- an XID known to be fatal marks the GPU unhealthy (FATAL_XIDS, from NVIDIA's XID catalogue:
  docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html); other XIDs (13, 31, 43: an
  application's fault) are not the GPU's and change nothing;
- the cumulative uncorrected-ECC counter increasing marks it unhealthy (the first sample a
  controller sees is the baseline: a count from before is not news to it);
- thermal and power-brake throttles are shown, never unhealthy (THROTTLE_NAMES, bits from
  nvml.h's nvmlClocksThrottleReason*, now nvmlClocksEventReason*).

Controlplane never imports nodeagent, so the bits are spelled here again.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

# XID -> what NVIDIA's catalogue says it is. "[E]" marks our estimate where the catalogue's
# action is a GPU reset or node check but it is not unconditionally fatal.
FATAL_XIDS: dict[int, str] = {
    48: "double-bit ECC error",
    63: "row remapping / page retirement event: reset required [E]",
    64: "row remapping / page retirement failure",
    74: "NVLink error",
    79: "GPU has fallen off the bus",
    92: "high single-bit ECC error rate [E]",
    94: "contained ECC error [E]",
    95: "uncontained ECC error",
    119: "GSP RPC timeout",
    120: "GSP error",
}

# nvml.h, nvmlClocksThrottleReason* (nvmlClocksEventReason* since R535): the bits shown.
HW_SLOWDOWN = 0x8
SW_THERMAL_SLOWDOWN = 0x20
HW_THERMAL_SLOWDOWN = 0x40
HW_POWER_BRAKE_SLOWDOWN = 0x80
THROTTLE_NAMES: dict[int, str] = {
    HW_SLOWDOWN: "hw_slowdown",
    SW_THERMAL_SLOWDOWN: "sw_thermal",
    HW_THERMAL_SLOWDOWN: "hw_thermal",
    HW_POWER_BRAKE_SLOWDOWN: "hw_power_brake",
}


SHOWN_THROTTLES = HW_SLOWDOWN | SW_THERMAL_SLOWDOWN | HW_THERMAL_SLOWDOWN | HW_POWER_BRAKE_SLOWDOWN


def throttles_of(reasons: int) -> list[str]:
    """The thermal / power-brake throttles set in an NVML reason bitmask, by name."""
    return [name for bit, name in THROTTLE_NAMES.items() if reasons & bit]


def fatal_reason(xids: Iterable[int]) -> str:
    """The reason for the first fatal XID among `xids`, or "" when none is fatal."""
    for xid in xids:
        if xid in FATAL_XIDS:
            return f"XID {xid}: {FATAL_XIDS[xid]}"
    return ""


def ecc_reason(before: float, after: float) -> str:
    """Why a rise of the uncorrected-ECC counter makes a GPU unhealthy ("" when it did not
    rise; NaN before: no baseline yet, so not news)."""
    if not after > before:  # False for NaN on either side
        return ""
    return f"uncorrected ECC errors: {int(before)} -> {int(after)}"


def assess(xids: Iterable[int], ecc_uncorrected: int, ecc_before: int | None) -> str:
    """Why one GPU's sample makes it unhealthy ("" when it does not). `ecc_before` is the
    counter the controller saw last (None: this is the first sample it sees)."""
    before = math.nan if ecc_before is None else float(ecc_before)
    return fatal_reason(xids) or ecc_reason(before, float(ecc_uncorrected))


@dataclass
class HealthMemory:
    """Per node, each GPU's last uncorrected-ECC count (in memory: a new leader starts a new
    baseline; what was unhealthy stays so in the node record).

    Works on a report's stored row (view/telemetry.py), so a report with nothing new costs a
    few array operations, not a Python loop over its GPUs: at 10,000 nodes that is the
    ingest path's budget."""

    ecc: dict[str, np.ndarray] = field(default_factory=dict)  # float[G], NaN: none seen

    def newly_unhealthy(
        self,
        node: str,
        ecc_uncorrected: np.ndarray,
        xid_events: Mapping[int, Iterable[int]],
        known: Container[int],
    ) -> dict[int, str]:
        """GPU -> reason for GPUs this report makes unhealthy that are not in `known`.
        `ecc_uncorrected`: float[G] of the report (NaN where a GPU had no sample);
        `xid_events`: GPU -> XIDs, only GPUs that reported any."""
        found: dict[int, str] = {}
        for index, xids in xid_events.items():
            reason = fatal_reason(xids)
            if reason and index not in known:
                found[index] = reason
        before = self.ecc.get(node)
        if before is None or before.shape != ecc_uncorrected.shape:
            self.ecc[node] = np.array(ecc_uncorrected, dtype=np.float64)
            return found
        rose = np.flatnonzero(ecc_uncorrected > before)  # NaN compares False, no warning
        for index in rose.tolist():
            if index not in found and index not in known:
                found[index] = ecc_reason(float(before[index]), float(ecc_uncorrected[index]))
        # A GPU missing from this report keeps its baseline.
        np.copyto(before, ecc_uncorrected, where=~np.isnan(ecc_uncorrected))
        return found

    def forget(self, node: str) -> None:
        self.ecc.pop(node, None)
