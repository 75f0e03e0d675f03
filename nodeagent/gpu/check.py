"""`make gpu-check`: exercise the NVML backend on this machine's GPUs and print what it saw.

Reads the inventory and a few telemetry samples. By default that is all: it changes no GPU
setting, since the GPUs this project may use must keep their power limits, clocks and MIG as
they are. `--same-value` also sets the power limit to the value it already has (the set call and
its permissions, the card's setting unchanged). Only `--allow-gpu-changes`, which the GPU's owner
must ask for explicitly, lowers one GPU's limit to the midpoint of its range, reads it back and
restores the limit it found.
docs/gpu-check.md keeps the output of each run on real hardware.

Exit status: 0 all steps worked; 1 the backend works but a step failed (e.g. "not permitted"
without root) or the limit did not read back; 2 no usable NVIDIA GPU (one line says why).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from nodeagent.gpu.base import UNAVAILABLE, ActuationError, BackendStatus, GpuInfo, GpuSample
from nodeagent.gpu.nvml import NvmlBackend
from sdk._text import plural

EXIT_OK, EXIT_STEP_FAILED, EXIT_NO_GPU = 0, 1, 2
_READBACK_TOLERANCE_W = 1.0  # NVML stores milliwatts; drivers may round to whole watts


def _fmt_info(g: GpuInfo) -> str:
    return (
        f"  gpu {g.index}: {g.model} {g.uuid} memory {g.memory_total_mib} MiB, "
        f"power limit [{g.power_limit_min_w:g}, {g.power_limit_max_w:g}] W "
        f"default {g.power_limit_default_w:g} W, max SM {g.max_sm_clock_mhz} MHz, "
        f"NVLink peers {list(g.nvlink_peers)}"
    )


def _fmt_sample(s: GpuSample) -> str:
    return (
        f"  gpu {s.index}: util {s.utilization_pct:g} %, memory {s.memory_used_mib} MiB, "
        f"power {s.power_w:g} W of {s.power_limit_w:g} W, {s.temperature_c:g} C, "
        f"SM {s.sm_clock_mhz} MHz, throttle 0x{s.throttle_reasons:x}, "
        f"ECC uncorrected {s.ecc_uncorrected}, XID {list(s.xid_events)}"
    )


def _power_limit_round_trip(
    backend: NvmlBackend, g: GpuInfo, out: TextIO, *, same_value: bool = False
) -> int:
    if UNAVAILABLE in (g.power_limit_min_w, g.power_limit_max_w):
        print(f"power limit: gpu {g.index} reports no limit range; step skipped", file=out)
        return EXIT_STEP_FAILED
    before_w = backend.power_limit_w(g.index)
    if same_value and before_w == UNAVAILABLE:
        # Without the current value a "same value" set could change the card: do nothing.
        print(f"power limit: gpu {g.index} reports no current limit; step skipped", file=out)
        return EXIT_STEP_FAILED
    if same_value:
        target_w = before_w  # the set call and its permissions, with the card left as it was
    else:
        target_w = float(round((g.power_limit_min_w + g.power_limit_max_w) / 2))
    print(f"power limit: gpu {g.index} now {before_w:g} W; setting {target_w:g} W", file=out)
    try:
        backend.set_power_limit(g.index, target_w)
    except ActuationError as exc:
        print(f"power limit: set refused: {exc.reason}", file=out)
        return EXIT_STEP_FAILED
    status = EXIT_OK
    try:
        read_w = backend.power_limit_w(g.index)
        enforced_w = backend.sample(time.monotonic())[g.index].power_limit_w
        print(f"power limit: read back {read_w:g} W (enforced {enforced_w:g} W)", file=out)
        if abs(read_w - target_w) > _READBACK_TOLERANCE_W:
            print("power limit: read-back differs from the value set", file=out)
            status = EXIT_STEP_FAILED
    finally:
        restore_w = before_w if before_w != UNAVAILABLE else g.power_limit_default_w
        try:
            backend.set_power_limit(g.index, restore_w)
            print(f"power limit: restored {backend.power_limit_w(g.index):g} W", file=out)
        except ActuationError as exc:
            print(f"power limit: RESTORE FAILED ({exc.reason}); was {before_w:g} W", file=out)
            status = EXIT_STEP_FAILED
    return status


def run_check(
    backend: NvmlBackend,
    out: TextIO,
    *,
    gpu: int = 0,
    samples: int = 3,
    interval_s: float = 0.5,
    actuate: bool = False,
    same_value: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    state = backend.state()
    if state.status not in (BackendStatus.OK, BackendStatus.DEGRADED):
        detail = f": {state.detail}" if state.detail else ""
        print(f"gpu-check: no usable NVIDIA GPU (nvml {state.status.value}{detail})", file=out)
        return EXIT_NO_GPU
    print(f"backend: nvml {state.status.value}, driver {state.driver_version}", file=out)
    if state.detail:
        print(f"  detail: {state.detail}", file=out)
    inventory = backend.inventory()
    print(f"inventory: {plural(len(inventory), 'GPU')}", file=out)
    for g in inventory:
        print(_fmt_info(g), file=out)
    for k in range(samples):
        if k:
            sleep(interval_s)
        print(f"sample {k + 1}/{samples}:", file=out)
        for s in backend.sample(time.monotonic()):
            print(_fmt_sample(s), file=out)
    if not actuate:
        return EXIT_OK
    target = next((g for g in inventory if g.index == gpu), None)
    if target is None:
        print(f"power limit: no GPU {gpu}", file=out)
        return EXIT_STEP_FAILED
    return _power_limit_round_trip(backend, target, out, same_value=same_value)


def main(argv: list[str] | None = None, nvml_module: Any | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nodeagent.gpu.check", description=__doc__)
    parser.add_argument("--gpu", type=int, default=0, help="GPU whose power limit is exercised")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    parser.add_argument(
        "--no-actuate", action="store_true", help="read only (the default; kept for scripts)"
    )
    parser.add_argument(
        "--same-value",
        action="store_true",
        help="set the power limit to the value it already has (the set path, no change)",
    )
    parser.add_argument(
        "--allow-gpu-changes",
        action="store_true",
        help="the GPU's owner allows a real change: cap GPU --gpu to mid-range, then restore",
    )
    args = parser.parse_args(argv)
    actuate = (args.allow_gpu_changes or args.same_value) and not args.no_actuate
    backend = NvmlBackend(nvml_module)
    try:
        return run_check(
            backend,
            sys.stdout,
            gpu=args.gpu,
            samples=args.samples,
            interval_s=args.interval,
            actuate=actuate,
            same_value=not args.allow_gpu_changes,
        )
    finally:
        backend.close()


if __name__ == "__main__":
    sys.exit(main())
