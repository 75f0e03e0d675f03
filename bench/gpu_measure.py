"""`python3 -m bench.gpu_measure`: one real GPU's power and speed under LLM decode, prefill-like
matrix work and time-sliced co-location, read through NVML while the work runs.

It exists to replace estimates in docs/gpu-model.md with readings: idle power, decode power and
speed by batch size, power against busy fraction, matrix-work power, and how much a
latency-critical decode step slows down when another process shares the GPU.

It changes no GPU setting (power limit, clocks, compute mode, MIG): the card's settings are
read, never written. PyTorch is needed and is not a dependency of aiwo; the machines this runs
on have it. Every phase prints one JSON line as it ends, and `--out FILE` collects them.

The decode step is an 8B-class transformer (Llama-3-8B shapes: 32 layers, hidden 4096, FFN
14336, 32 query and 8 KV heads, bf16) reading a fixed KV cache of `--context` tokens,
captured in a CUDA graph as serving engines do. Norms and sampling are left out: they are a
small share of the bytes a decode step reads.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SAMPLE_PERIOD_S = 0.05


# ---------------------------------------------------------------------------- NVML meter


@dataclass
class PhaseReading:
    name: str
    seconds: float
    energy_j: float
    power_w: float  # energy / seconds (NVML's energy counter), else the mean of samples
    power_p10_w: float
    power_p90_w: float
    sm_clock_mhz: float  # medians of the samples taken while the phase ran
    mem_clock_mhz: float
    utilization_pct: float
    temperature_c: float
    throttle_reasons: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


_THROTTLE_BITS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x20: "sw_thermal",
    0x40: "hw_thermal",
    0x80: "hw_power_brake",
}


class Meter:
    """Samples one GPU through NVML on a thread; `phase()` brackets a measurement."""

    def __init__(self, index: int) -> None:
        import pynvml

        self.nvml = pynvml
        pynvml.nvmlInit()
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self._samples: list[tuple[float, float, float, float, float, int]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="nvml-meter")
        self._thread.start()

    def settings(self) -> dict[str, Any]:
        n, h = self.nvml, self.handle
        out: dict[str, Any] = {
            "driver": n.nvmlSystemGetDriverVersion(),
            "name": n.nvmlDeviceGetName(h),
        }
        for key, call in {
            "power_limit_w": lambda: n.nvmlDeviceGetPowerManagementLimit(h) / 1000,
            "enforced_power_limit_w": lambda: n.nvmlDeviceGetEnforcedPowerLimit(h) / 1000,
            "power_limit_range_w": lambda: [
                v / 1000 for v in n.nvmlDeviceGetPowerManagementLimitConstraints(h)
            ],
            "max_sm_clock_mhz": lambda: n.nvmlDeviceGetMaxClockInfo(h, n.NVML_CLOCK_SM),
            "max_mem_clock_mhz": lambda: n.nvmlDeviceGetMaxClockInfo(h, n.NVML_CLOCK_MEM),
            "persistence_mode": lambda: n.nvmlDeviceGetPersistenceMode(h),
            "compute_mode": lambda: n.nvmlDeviceGetComputeMode(h),
            "memory_total_mib": lambda: n.nvmlDeviceGetMemoryInfo(h).total // (1 << 20),
        }.items():
            try:
                out[key] = call()
            except n.NVMLError as exc:
                out[key] = f"unsupported: {exc}"
        return out

    def _energy_mj(self) -> float | None:
        try:
            return float(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))
        except self.nvml.NVMLError:
            return None

    def _run(self) -> None:
        n, h = self.nvml, self.handle
        while not self._stop.is_set():
            try:
                sample = (
                    time.monotonic(),
                    n.nvmlDeviceGetPowerUsage(h) / 1000,
                    float(n.nvmlDeviceGetClockInfo(h, n.NVML_CLOCK_SM)),
                    float(n.nvmlDeviceGetClockInfo(h, n.NVML_CLOCK_MEM)),
                    float(n.nvmlDeviceGetUtilizationRates(h).gpu),
                    n.nvmlDeviceGetCurrentClocksThrottleReasons(h),
                )
                temperature = float(n.nvmlDeviceGetTemperature(h, n.NVML_TEMPERATURE_GPU))
            except n.NVMLError:
                time.sleep(_SAMPLE_PERIOD_S)
                continue
            with self._lock:
                self._samples.append(sample)
                self._temperature = temperature
            time.sleep(_SAMPLE_PERIOD_S)

    @contextlib.contextmanager
    def phase(self, name: str, extra: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Measure the block; the caller may add figures to the yielded dict."""
        figures: dict[str, Any] = dict(extra or {})
        e0, t0 = self._energy_mj(), time.monotonic()
        yield figures
        e1, t1 = self._energy_mj(), time.monotonic()
        with self._lock:
            window = [s for s in self._samples if t0 <= s[0] <= t1]
            temperature = getattr(self, "_temperature", float("nan"))
        seconds = t1 - t0
        powers = sorted(s[1] for s in window) or [float("nan")]
        if e0 is not None and e1 is not None and seconds > 0:
            energy_j = (e1 - e0) / 1000
        else:
            energy_j = statistics.fmean(powers) * seconds
        reasons = 0
        for s in window:
            reasons |= s[5]
        reading = PhaseReading(
            name=name,
            seconds=round(seconds, 3),
            energy_j=round(energy_j, 1),
            power_w=round(energy_j / seconds, 1) if seconds > 0 else float("nan"),
            power_p10_w=powers[len(powers) // 10],
            power_p90_w=powers[(9 * len(powers)) // 10],
            sm_clock_mhz=_median([s[2] for s in window]),
            mem_clock_mhz=_median([s[3] for s in window]),
            utilization_pct=_median([s[4] for s in window]),
            temperature_c=temperature,
            throttle_reasons=[v for bit, v in _THROTTLE_BITS.items() if reasons & bit],
            extra=figures,
        )
        _emit(reading.__dict__)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        self.nvml.nvmlShutdown()


class SettingsSweep:
    """Power limits and SM clock locks, each set for a block and always restored.

    Only with --allow-gpu-changes (alias --change-settings): the default run reads settings
    and never writes them."""

    def __init__(self, meter: Meter) -> None:
        self.nvml = getattr(meter, "nvml", None)
        self.handle = getattr(meter, "handle", None)
        self.original_limit_mw: int | None = None
        if self.nvml is not None:
            self.original_limit_mw = self.nvml.nvmlDeviceGetPowerManagementLimit(self.handle)

    @contextlib.contextmanager
    def power_limit(self, watts: float) -> Iterator[None]:
        if self.nvml is not None:
            self.nvml.nvmlDeviceSetPowerManagementLimit(self.handle, int(watts * 1000))
            time.sleep(1.0)  # the limiter settles
        try:
            yield
        finally:
            if self.nvml is not None and self.original_limit_mw is not None:
                self.nvml.nvmlDeviceSetPowerManagementLimit(self.handle, self.original_limit_mw)

    @contextlib.contextmanager
    def sm_clock(self, mhz: int) -> Iterator[None]:
        if self.nvml is not None:
            self.nvml.nvmlDeviceSetGpuLockedClocks(self.handle, mhz, mhz)
            time.sleep(0.5)
        try:
            yield
        finally:
            if self.nvml is not None:
                self.nvml.nvmlDeviceResetGpuLockedClocks(self.handle)


class NullMeter(Meter):
    """No NVML (a dry run of the script on a machine without a GPU): timings only."""

    def __init__(self, index: int) -> None:
        self._samples, self._lock = [], threading.Lock()

    def settings(self) -> dict[str, Any]:
        return {"name": "none (dry run)"}

    def _energy_mj(self) -> float | None:
        return None

    def close(self) -> None:
        pass


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


_OUT: list[Path] = []


def _emit(record: dict[str, Any]) -> None:
    line = json.dumps(record, default=str)
    print(line, flush=True)
    for path in _OUT:
        with path.open("a") as f:
            f.write(line + "\n")


# ---------------------------------------------------------------------------- the work


@dataclass(frozen=True)
class DecodeShape:
    layers: int = 32
    hidden: int = 4096
    ffn: int = 14336
    heads: int = 32
    kv_heads: int = 8
    head_dim: int = 128

    @classmethod
    def tiny(cls) -> DecodeShape:
        """For dry runs: the same code path at a size a CPU steps through quickly."""
        return cls(layers=2, hidden=256, ffn=512, heads=4, kv_heads=2, head_dim=64)

    def weight_bytes(self) -> int:
        kv = 2 * self.kv_heads * self.head_dim
        per_layer = self.hidden * (self.hidden + kv) + self.hidden**2 + 3 * self.hidden * self.ffn
        return 2 * self.layers * per_layer


class Decoder:
    """Weights shared by all batch sizes; a KV cache and a captured graph per batch size."""

    def __init__(self, torch: Any, device: str, shape: DecodeShape, context: int) -> None:
        self.torch, self.device, self.shape, self.context = torch, device, shape, context
        s, dt = shape, torch.bfloat16
        kv = 2 * s.kv_heads * s.head_dim

        def w(rows: int, cols: int) -> Any:
            return torch.randn(rows, cols, device=device, dtype=dt) * 0.02

        self.layers = [
            (
                w(s.hidden, s.hidden + kv),
                w(s.hidden, s.hidden),
                w(s.hidden, 2 * s.ffn),
                w(s.ffn, s.hidden),
            )
            for _ in range(s.layers)
        ]

    def step_fn(self, batch: int) -> tuple[Callable[[], Any], bool]:
        """One decode step for `batch` sequences as a callable; True if graph-captured."""
        torch, s = self.torch, self.shape
        f = torch.nn.functional
        kv_shape = (batch, s.kv_heads, self.context, s.head_dim)

        def kv() -> Any:
            return torch.randn(*kv_shape, device=self.device, dtype=torch.bfloat16)

        cache = [(kv(), kv()) for _ in range(s.layers)]
        x0 = torch.randn(batch, s.hidden, device=self.device, dtype=torch.bfloat16) * 0.02

        def step() -> Any:
            x = x0
            for (wqkv, wo, w13, w2), (k_cache, v_cache) in zip(self.layers, cache, strict=True):
                qkv = x @ wqkv
                q = qkv[:, : s.hidden].view(batch, s.heads, 1, s.head_dim)
                attn = f.scaled_dot_product_attention(q, k_cache, v_cache, enable_gqa=True)
                x = x + attn.reshape(batch, s.hidden) @ wo
                gate, up = (x @ w13).chunk(2, dim=-1)
                x = x + (f.silu(gate) * up) @ w2
            return x

        if not self.device.startswith("cuda"):
            return step, False
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    step()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                step()
            return _Replay(graph, keep=(cache, x0)), True
        except RuntimeError as exc:  # capture refused: measure the eager step instead
            print(f"graph capture failed ({exc}); eager decode", file=sys.stderr)
            return step, False


class _Replay:
    """A captured graph and the tensors it reads: a graph holds raw addresses, so the cache and
    input must outlive it (freed, their memory is handed to the next allocation)."""

    def __init__(self, graph: Any, keep: tuple[Any, ...]) -> None:
        self.graph, self.keep = graph, keep

    def __call__(self) -> None:
        self.graph.replay()


def _sync(torch: Any) -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _timed_steps(
    torch: Any, run: Callable[[], Any], seconds: float, duty: float = 1.0
) -> list[float]:
    """Step latencies (ms) of `run`, synchronized each step; idles between steps for duty < 1."""
    latencies: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        run()
        _sync(torch)
        took = time.perf_counter() - t0
        latencies.append(took * 1000)
        if duty < 1:
            time.sleep(took * (1 - duty) / duty)
    return latencies


def _latency_figures(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "steps": len(ordered),
        "step_ms_p50": round(ordered[len(ordered) // 2], 3),
        "step_ms_p99": round(ordered[min(len(ordered) - 1, (99 * len(ordered)) // 100)], 3),
        "step_ms_mean": round(statistics.fmean(ordered), 3),
    }


def _gemm_fn(torch: Any, device: str, n: int) -> Callable[[], Any]:
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    out = torch.empty(n, n, device=device, dtype=torch.bfloat16)

    def run() -> Any:
        for _ in range(8):
            torch.matmul(a, b, out=out)
        return out

    return run


# ---------------------------------------------------------------------------- roles


def neighbour(args: argparse.Namespace) -> None:
    """A second process on the same GPU: matrix work or batch decode, at a duty cycle."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.role == "gemm":
        run, flops = _gemm_fn(torch, device, args.gemm_n), 8 * 2 * args.gemm_n**3
    else:
        decoder = Decoder(torch, device, _shape(args), args.context)
        run, _ = decoder.step_fn(args.batch)
        flops = 0
    _timed_steps(torch, run, 1.0)  # warm
    Path(args.ready).touch()
    latencies = _timed_steps(torch, run, args.seconds, duty=args.duty)
    busy_s = sum(latencies) / 1000
    result = {"role": args.role, "duty": args.duty, "steps": len(latencies), "busy_s": busy_s}
    if flops:
        result["tflops_while_busy"] = round(flops * len(latencies) / busy_s / 1e12, 1)
    Path(args.result).write_text(json.dumps(result))


def _start_neighbour(
    args: argparse.Namespace, role: str, duty: float, seconds: float, tag: str
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    scratch = Path(args.scratch)
    ready, result = scratch / f"{tag}.ready", scratch / f"{tag}.json"
    for p in (ready, result):
        p.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "bench.gpu_measure",
        "--role",
        role,
        "--duty",
        str(duty),
        "--seconds",
        str(seconds),
        "--ready",
        str(ready),
        "--result",
        str(result),
        "--batch",
        str(args.neighbour_batch),
        "--context",
        str(args.context),
        "--gemm-n",
        str(args.gemm_n),
    ] + (["--dry-run"] if args.dry_run else [])
    return subprocess.Popen(command), ready, result


def main_run(args: argparse.Namespace) -> None:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    meter = NullMeter(args.gpu) if args.dry_run else Meter(args.gpu)
    _emit({"name": "settings", **meter.settings(), "torch": torch.__version__, "device": device})

    with meter.phase("idle, no CUDA context in this process"):
        time.sleep(args.idle_s)
    torch.ones(1, device=device)
    _sync(torch)
    with meter.phase("idle, CUDA context open"):
        time.sleep(args.idle_s)

    shape = _shape(args)
    decoder = Decoder(torch, device, shape, args.context)
    weight_gb = shape.weight_bytes() / 1e9
    steps: dict[int, Callable[[], Any]] = {}
    for batch in args.batches:
        run, graphed = decoder.step_fn(batch)
        steps[batch] = run
        _timed_steps(torch, run, 0.5)
        kv_gb = 2 * 2 * shape.layers * batch * shape.kv_heads * args.context * shape.head_dim / 1e9
        with meter.phase(f"decode batch {batch}", {"batch": batch, "graph": graphed}) as figures:
            latencies = _timed_steps(torch, run, args.phase_s)
            figures.update(_latency_figures(latencies))
            tokens_per_s = batch * len(latencies) / (sum(latencies) / 1000)
            figures["tokens_per_s"] = round(tokens_per_s, 1)
            figures["hbm_gb_per_s"] = round(
                (weight_gb + kv_gb) * len(latencies) / (sum(latencies) / 1000), 1
            )

    duty_batch = args.duty_batch
    if args.duties and duty_batch not in steps:
        steps[duty_batch] = decoder.step_fn(duty_batch)[0]
    for duty in args.duties:
        with meter.phase(
            f"decode batch {duty_batch} at duty {duty}", {"batch": duty_batch, "duty": duty}
        ) as figures:
            latencies = _timed_steps(torch, steps[duty_batch], args.phase_s, duty=duty)
            figures.update(_latency_figures(latencies))

    if args.caps or args.clocks:
        _sweep_settings(args, torch, meter, steps, decoder)

    gemm = _gemm_fn(torch, device, args.gemm_n)
    _timed_steps(torch, gemm, 0.5)
    with meter.phase("matrix work (prefill/training-like)", {"n": args.gemm_n}) as figures:
        latencies = _timed_steps(torch, gemm, args.phase_s)
        figures["tflops"] = round(
            8 * 2 * args.gemm_n**3 * len(latencies) / (sum(latencies) / 1000) / 1e12, 1
        )

    for batch in args.lc_batches:
        if batch not in steps:
            steps[batch] = decoder.step_fn(batch)[0]
            _timed_steps(torch, steps[batch], 0.5)
        with meter.phase(
            f"co-location: decode batch {batch} alone", {"lc_batch": batch}
        ) as figures:
            figures.update(_latency_figures(_timed_steps(torch, steps[batch], args.coloc_s)))
    for role, duty in args.neighbours:
        # One neighbour process per setting, measured against each latency-critical batch.
        tag = f"{role}-{duty}"
        seconds = len(args.lc_batches) * (args.coloc_s + 0.5) + 4
        proc, ready, result = _start_neighbour(args, role, duty, seconds, tag)
        deadline = time.monotonic() + 90
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        for batch in args.lc_batches:
            name = f"co-location: decode batch {batch} with {role} neighbour at duty {duty}"
            extra = {"lc_batch": batch, "neighbour": role, "duty": duty}
            with meter.phase(name, extra) as figures:
                figures.update(_latency_figures(_timed_steps(torch, steps[batch], args.coloc_s)))
        proc.wait(timeout=60)
        if result.exists():
            _emit({"name": f"neighbour {tag}", **json.loads(result.read_text())})
    meter.close()


def _sweep_settings(
    args: argparse.Namespace,
    torch: Any,
    meter: Meter,
    steps: dict[int, Callable[[], Any]],
    decoder: Decoder,
) -> None:
    """Decode speed and power under each power limit and SM clock lock asked for: the curve
    the GPU model lacks for memory-bound work (docs/gpu-model.md section 9)."""
    if not args.change_settings:
        raise SystemExit("--caps and --clocks change the GPU's settings: add --allow-gpu-changes")
    sweep = SettingsSweep(meter)
    settings = [("power limit", w, sweep.power_limit(w)) for w in args.caps]
    settings += [("SM clock lock", m, sweep.sm_clock(m)) for m in args.clocks]
    for what, value, context in settings:
        with context:
            for batch in args.sweep_batches:
                if batch not in steps:
                    steps[batch] = decoder.step_fn(batch)[0]
                extra = {"batch": batch, "setting": what, "value": value}
                with meter.phase(f"decode batch {batch}, {what} {value:g}", extra) as figures:
                    latencies = _timed_steps(torch, steps[batch], args.phase_s)
                    figures.update(_latency_figures(latencies))
                    figures["tokens_per_s"] = round(
                        batch * len(latencies) / (sum(latencies) / 1000), 1
                    )
    if sweep.original_limit_mw is not None:
        _emit({"name": "settings restored", "power_limit_w": sweep.original_limit_mw / 1000})


def _shape(args: argparse.Namespace) -> DecodeShape:
    return DecodeShape.tiny() if args.dry_run else DecodeShape()


def _neighbour_spec(text: str) -> tuple[str, float]:
    role, _, duty = text.partition(":")
    if role not in ("gemm", "decode"):
        raise argparse.ArgumentTypeError(f"neighbour role {role!r}: expected gemm or decode")
    return role, float(duty or 1.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python3 -m bench.gpu_measure", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--gpu", type=int, default=0)
    parser.add_argument("--out", help="Also append each JSON line to this file.")
    parser.add_argument("--idle-s", type=float, default=5.0)
    parser.add_argument("--phase-s", type=float, default=6.0, help="Seconds per measured phase.")
    parser.add_argument("--coloc-s", type=float, default=6.0)
    parser.add_argument("--context", type=int, default=1024, help="KV-cache tokens per sequence.")
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 8, 32, 128])
    parser.add_argument("--duties", type=float, nargs="*", default=[0.25, 0.5, 0.75])
    parser.add_argument("--duty-batch", type=int, default=32)
    parser.add_argument(
        "--lc-batches", type=int, nargs="+", default=[8], help="Latency-critical decode batches."
    )
    parser.add_argument("--neighbour-batch", type=int, default=128)
    parser.add_argument(
        "--neighbours",
        type=_neighbour_spec,
        nargs="*",
        default=[("gemm", 1.0), ("gemm", 0.5), ("decode", 1.0)],
    )
    parser.add_argument("--gemm-n", type=int, default=8192)
    parser.add_argument("--scratch", default="/tmp")
    parser.add_argument(
        "--dry-run", action="store_true", help="No NVML, tiny shapes: check the script."
    )
    parser.add_argument(
        "--caps", type=float, nargs="*", default=[], help="Power limits (W) to sweep."
    )
    parser.add_argument(
        "--clocks", type=int, nargs="*", default=[], help="SM clock locks (MHz) to sweep."
    )
    parser.add_argument("--sweep-batches", type=int, nargs="+", default=[8, 32])
    parser.add_argument(
        "--allow-gpu-changes",
        "--change-settings",
        dest="change_settings",
        action="store_true",
        help="Allow --caps/--clocks to change the GPU's settings (restored after each block).",
    )
    # A neighbour process's own arguments.
    parser.add_argument("--role", choices=["main", "gemm", "decode"], default="main")
    parser.add_argument("--duty", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--ready", default="")
    parser.add_argument("--result", default="")
    args = parser.parse_args(argv)
    if args.out:
        _OUT.append(Path(args.out))
    if args.role == "main":
        main_run(args)
    else:
        neighbour(args)


if __name__ == "__main__":
    os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:False")
    main()
