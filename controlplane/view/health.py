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

from collections.abc import Iterable
from dataclasses import dataclass, field

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


def throttles_of(reasons: int) -> list[str]:
    """The thermal / power-brake throttles set in an NVML reason bitmask, by name."""
    return [name for bit, name in THROTTLE_NAMES.items() if reasons & bit]


def fatal_reason(xids: Iterable[int]) -> str:
    """The reason for the first fatal XID among `xids`, or "" when none is fatal."""
    for xid in xids:
        if xid in FATAL_XIDS:
            return f"XID {xid}: {FATAL_XIDS[xid]}"
    return ""


def assess(xids: Iterable[int], ecc_uncorrected: int, ecc_before: int | None) -> str:
    """Why one GPU's sample makes it unhealthy ("" when it does not). `ecc_before` is the
    counter the controller saw last (None: this is the first sample it sees)."""
    reason = fatal_reason(xids)
    if reason:
        return reason
    if ecc_before is not None and ecc_uncorrected > ecc_before:
        return f"uncorrected ECC errors: {ecc_before} -> {ecc_uncorrected}"
    return ""


@dataclass
class HealthMemory:
    """Per node, each GPU's last uncorrected-ECC count (in memory: a new leader starts a new
    baseline; what was unhealthy stays so in the node record)."""

    ecc: dict[str, dict[int, int]] = field(default_factory=dict)

    def newly_unhealthy(
        self,
        node: str,
        samples: Iterable[tuple[int, Iterable[int], int]],
        known: Iterable[int],
    ) -> dict[int, str]:
        """GPU -> reason for GPUs this report makes unhealthy that are not in `known`.
        `samples` are (index, xid_events, ecc_uncorrected) of one report."""
        seen = self.ecc.setdefault(node, {})
        already = set(known)
        found: dict[int, str] = {}
        for index, xids, ecc in samples:
            reason = assess(xids, ecc, seen.get(index))
            seen[index] = ecc
            if reason and index not in already:
                found[index] = reason
        return found

    def forget(self, node: str) -> None:
        self.ecc.pop(node, None)
