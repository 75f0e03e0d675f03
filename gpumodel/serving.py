"""A replica of an LLM serving engine on one GPU: continuous batching, prefill, power, cold start.

One replica is one 8B-class dense model (Llama-3.1-8B shapes, bf16) on one GPU, served by a
vLLM-style engine: every step advances each running sequence by one token, and new prompts are
prefilled in chunks inside the steps. Two presets, each fitted to its own data:

- `H100_8B` (the default): decode and power from the ML.ENERGY leaderboard's measured vLLM
  runs of meta-llama/Llama-3.1-8B-Instruct on one H100, task lm-arena-chat
  (/work/shared/data/ml-energy/llm_configurations.csv, file lines 639-649, header = line 1;
  "ml-energy rows" below).
- `H200_8B`: decode and power from this project's own H200 measurement
  (docs/gpu-model.md section 9, "§9" below): a replayed CUDA-graph decode step with a fixed
  1,024-token KV cache per sequence.

Units are in the names (_ms, _s, _w, _j). Decode is memory-bound: its step time does not
follow the SM clock or a power cap down to 70 % of the limit (Splitwise's `h100-80gb-pcap`
rows in /work/shared/data/splitwise/perf_model.csv: token_time unchanged at a 70 % cap,
prompt_time x1.30), so only prefill is slowed by a cap here. [E] marks an estimate.

A replica may also run at a `ReplicaSetting` (an SM clock lock and/or a power cap):
`model.at(setting)` is the same replica with its prefill rate, prefill power, decode step and
decode power at that setting, from gpumodel/perf.py's phase curves (docs/gpu-model.md §5: all
from published figures, none from a sweep here). The default setting returns the model itself,
so every figure at default clocks is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from gpumodel import perf
from gpumodel.models import get_model

# Splitwise perf_model.csv, llama2-70b, TP8: prompt_time of h100-80gb-pcap / h100-80gb, medians
# of the 1,024-token batch-1 rows (101.3 / 77.9 ms) and the 2,048-token rows (177.8 / 136.8):
# a 70 % cap makes prefill 1.30x slower; token_time is the same in every pair of rows.
PREFILL_SLOWDOWN_AT_70PCT_CAP: Final = 1.30
LOWEST_CAP_FRACTION_MEASURED: Final = 0.70


@dataclass(frozen=True, slots=True)
class ReplicaModel:
    """The serving speed and power of one replica. See the presets below for every source."""

    name: str
    decode_step_base_ms: float  # s0: one decode step at batch 0 (the weight read)
    decode_step_per_seq_ms: float  # s1: each running sequence adds this (its KV-cache read)
    max_batch: int  # the engine's max_num_seqs: sequences decoding at once
    prefill_tokens_per_s: float  # prompt tokens per second while prefilling (compute-bound)
    prefill_chunk_tokens: int  # prompt tokens one step may carry (chunked prefill)
    # Decode power by batch: (batch, watts) points, interpolated in log2(batch).
    decode_power_points: tuple[tuple[float, float], ...]
    prefill_power_w: float  # while a step is mostly prompt work
    held_idle_power_w: float  # an engine process holds the GPU, no work (clock stays high)
    no_process_idle_power_w: float  # nothing on the GPU (freed GPUs)
    cold_start_s: float  # process start to ready: weights loaded, graphs captured
    source: str
    max_power_limit_w: float = 700.0  # the GPU's max power limit (a cap is a fraction of it)
    curve_p0_w: float = 147.0  # the GPU's Zeus P0 (models.py: 0.21 x max limit)
    setting: ReplicaSetting | None = None  # None: default clocks and limit

    # -- settings -------------------------------------------------------------------------

    def at(self, setting: ReplicaSetting) -> ReplicaModel:
        """This replica at an SM clock lock and/or power cap (docs/gpu-model.md §5 curves).

        - Prefill is compute-bound: perf.phase_speed / phase_power_w("prefill"), i.e. speed = the
          lock ratio x the Zeus curve of the cap (alpha 0.549, fitted to Splitwise's x1.30 at
          a 70 % cap), power = the locked demand, never above the cap.
        - Decode is memory-bound: step time x perf.decode_time_factor(r) (m = 0.9), power at
          each batch point perf.decode_power_w(r, P(batch), held idle) (P ~ f^3 on 57 % of the
          dynamic power). A cap below decode's power lowers the clock to where the power meets
          the cap (perf.decode_clock_ratio_under_cap); the step stays linear in batch by
          taking the clock the cap forces at the highest-power batch point [conservative:
          low batches draw less and would keep a higher clock].
        """
        if self.setting is not None:
            raise ValueError(f"{self.name} is already at a setting: call at() on the default")
        if setting.is_default():
            return self
        base = self
        cap_w = setting.cap_fraction * base.max_power_limit_w
        r = setting.sm_clock_ratio
        idle = base.held_idle_power_w
        pre = perf.PhasePower(base.prefill_power_w, idle, base.curve_p0_w, perf.PREFILL_CURVE_ALPHA)
        prefill_speed = perf.phase_speed("prefill", cap_w, r, pre)
        prefill_w = perf.phase_power_w("prefill", cap_w, r, pre)
        worst_w = max(p for _, p in base.decode_power_points)
        r_decode = min(r, perf.decode_clock_ratio_under_cap(cap_w, worst_w, idle))
        factor = perf.decode_time_factor(r_decode)
        points = tuple(
            (b, min(cap_w, perf.decode_power_w(r_decode, p, idle)))
            for b, p in base.decode_power_points
        )
        return replace(
            base,
            name=f"{base.name}@{setting.label()}",
            decode_step_base_ms=base.decode_step_base_ms * factor,
            decode_step_per_seq_ms=base.decode_step_per_seq_ms * factor,
            prefill_tokens_per_s=base.prefill_tokens_per_s * prefill_speed,
            prefill_power_w=prefill_w,
            decode_power_points=points,
            setting=setting,
        )

    # -- speed ----------------------------------------------------------------------------

    def decode_step_ms(self, batch: float, cap_fraction: float = 1.0) -> float:
        """One decode step with `batch` sequences running: s0 + s1 x batch.

        A cap down to 70 % of the limit leaves it unchanged (memory-bound; Splitwise pcap rows).
        """
        _check_cap(cap_fraction)
        return self.decode_step_base_ms + self.decode_step_per_seq_ms * max(0.0, batch)

    def decode_tokens_per_s(self, batch: float) -> float:
        """Output tokens per second of the whole batch when it only decodes."""
        b = max(0.0, batch)
        return 1000.0 * b / self.decode_step_ms(b)

    def prefill_ms(self, prompt_tokens: float, cap_fraction: float = 1.0) -> float:
        """Time to prefill one prompt alone: ceil(tokens / chunk) steps of weight read + compute.

        Prefill is compute-bound, so a cap slows it: x1.30 at 70 % (Splitwise), linear between
        [E: two measured points, no curve published].
        """
        steps = max(1, math.ceil(prompt_tokens / self.prefill_chunk_tokens))
        compute_ms = 1000.0 * prompt_tokens / self.prefill_tokens_per_s
        return (steps * self.decode_step_base_ms + compute_ms) * prefill_slowdown(cap_fraction)

    def tpot_ms(self, batch: float, prefill_fraction: float) -> float:
        """Mean time per output token when a `prefill_fraction` of GPU time goes to prompts."""
        share = 1.0 - min(max(prefill_fraction, 0.0), 0.999)
        return self.decode_step_ms(batch) / share

    # -- power ----------------------------------------------------------------------------

    def decode_power_w(self, batch: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Board power while decoding at `batch`; flat below the first point and above the last."""
        points = np.asarray(self.decode_power_points, dtype=np.float64)
        b, p = points[:, 0], points[:, 1]
        x = np.log2(np.maximum(np.asarray(batch, dtype=np.float64), 1.0))
        return np.asarray(np.interp(x, np.log2(b), p), dtype=np.float64)

    def power_w(
        self, prefill_fraction: npt.ArrayLike, decode_fraction: npt.ArrayLike, batch: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """Average power of a replica busy prefilling and decoding those fractions of the time.

        Each activity adds its power above the held-idle floor for the time it runs: §9 found
        power linear in the busy fraction within 3 % once the floor is the held-idle power.
        """
        f = np.clip(np.asarray(prefill_fraction, dtype=np.float64), 0.0, 1.0)
        d = np.clip(np.asarray(decode_fraction, dtype=np.float64), 0.0, 1.0 - f)
        floor = self.held_idle_power_w
        return floor + f * (self.prefill_power_w - floor) + d * (self.decode_power_w(batch) - floor)

    def energy_per_token_j(self, batch: float) -> float:
        """Decode energy per output token at `batch`, decoding only."""
        return float(self.decode_power_w(batch)) * self.decode_step_ms(batch) / 1000.0 / batch

    # -- capacity -------------------------------------------------------------------------

    def max_rate_per_s(
        self,
        mean_prompt_tokens: float,
        mean_decode_tokens: float,
        tpot_target_ms: float,
        headroom: float = 1.0,
    ) -> float:
        """Steady-state requests/s one replica serves with mean TPOT <= target (Little's law).

        A rate lam spends f = lam x prompt / R of the time on prompts; B = lam x decode x TPOT
        sequences run, so TPOT = (s0 + s1 B) / (1 - f) solves to s0 / (1 - f - s1 lam decode).
        `headroom` < 1 keeps that share of the budget free (bursts, queueing).
        """
        if tpot_target_ms <= 0:
            raise ValueError("tpot_target_ms must be > 0")
        target = tpot_target_ms * headroom
        s0, s1 = self.decode_step_base_ms, self.decode_step_per_seq_ms
        prefill_s = mean_prompt_tokens / self.prefill_tokens_per_s
        # TPOT <= target  <=>  1 - lam prefill_s - s1 lam decode / 1000 >= s0 / target
        #                  and B = lam decode target / 1000 <= max_batch
        denominator = prefill_s + s1 * mean_decode_tokens / 1000.0
        slack = 1.0 - s0 / target
        if slack <= 0:
            return 0.0
        lam = slack / denominator if denominator > 0 else math.inf
        if mean_decode_tokens > 0:
            lam = min(lam, self.max_batch * 1000.0 / (mean_decode_tokens * target))
        return lam


def prefill_slowdown(cap_fraction: float) -> float:
    """Prefill time multiplier under a power cap (fraction of the max limit)."""
    _check_cap(cap_fraction)
    if cap_fraction >= 1.0:
        return 1.0
    span = 1.0 - LOWEST_CAP_FRACTION_MEASURED
    return 1.0 + (PREFILL_SLOWDOWN_AT_70PCT_CAP - 1.0) * (1.0 - cap_fraction) / span


def _check_cap(cap_fraction: float) -> None:
    if not LOWEST_CAP_FRACTION_MEASURED <= cap_fraction <= 1.0:
        raise ValueError(
            f"cap_fraction {cap_fraction} outside the published range "
            f"[{LOWEST_CAP_FRACTION_MEASURED}, 1.0] (Splitwise's 70 % cap rows)"
        )


# The lowest SM clock ratio a replica setting may ask for: VoltanaLLM's lowest decode clock,
# 1,005 MHz on an A100 (data README, "Published figures on clocks and caps"), is 0.51 of an
# H100's or H200's 1,980 MHz; it is also where perf.best_decode_clock_ratio lands for decode
# at <= x1.10 step time (docs/gpu-model.md §5: r = 0.5, -33 % decode energy). Nothing
# published covers lower clocks for LLM serving.
LOWEST_CLOCK_RATIO: Final = 0.5


@dataclass(frozen=True, slots=True)
class ReplicaSetting:
    """What the runtime may set on a replica's GPU: an SM clock lock and a power cap.

    sm_clock_ratio: locked max SM clock / max SM clock, in [0.5, 1] (1 = no lock).
    cap_fraction: power limit / max limit, in [0.7, 1] (1 = no cap; Splitwise's 70 % rows).
    """

    sm_clock_ratio: float = 1.0
    cap_fraction: float = 1.0

    def __post_init__(self) -> None:
        r = self.sm_clock_ratio
        if not (math.isfinite(r) and LOWEST_CLOCK_RATIO <= r <= 1.0):
            raise ValueError(
                f"sm_clock_ratio {r} outside the published range [{LOWEST_CLOCK_RATIO}, 1.0]"
            )
        if not math.isfinite(self.cap_fraction):
            raise ValueError(f"cap_fraction {self.cap_fraction} is not finite")
        _check_cap(self.cap_fraction)

    def is_default(self) -> bool:
        return self.sm_clock_ratio >= 1.0 and self.cap_fraction >= 1.0

    def label(self) -> str:
        parts = []
        if self.sm_clock_ratio < 1.0:
            parts.append(f"clock {self.sm_clock_ratio:.2f}")
        if self.cap_fraction < 1.0:
            parts.append(f"cap {self.cap_fraction:.2f}")
        return ", ".join(parts) or "default"


DEFAULT_SETTING: Final = ReplicaSetting()


# Prefill rate [E, derived]: Splitwise perf_model.csv, llama2-70b on h100-80gb TP8: prompt_time
# grows 0.0894 ms per prompt token between the 512x8 (4,096 tokens, 371.6 ms median) and 512x64
# (32,768 tokens, 2,936.3 ms) rows = 11.2k tokens/s on 8 GPUs = 2 x 70e9 x 11.2e3 / 8 = 196
# TFLOP/s per GPU. The same FLOP rate on one GPU for an 8.03B model: 196e12 / (2 x 8.03e9)
# = 12.2k tokens/s. (TensorRT-LLM's FP8 figure in gpu-models.md section 5 is faster; this one is
# measured in a vLLM-based engine.)
_PREFILL_TOKENS_PER_S: Final = 12_200.0
# gpu-models.md section 5: "prompt batching capped at 2,048 tokens, where prompt throughput
# peaks" (splitwise-sim configs/start_state).
_PREFILL_CHUNK_TOKENS: Final = 2048
# Cold start [E]: process start to /healthz ready for a vLLM 8B replica with weights on local
# disk: weight load, torch.compile and CUDA-graph capture. Published breakdowns (Tensorfuse,
# "Reducing GPU cold start time when using vLLM", 2025, Llama-3.1-8B; "Breaking the Ice:
# Analyzing Cold Start Latency in vLLM", arXiv 2606.07362) put it at tens of seconds to minutes;
# Replicate (2025) reports cold boots of 60-150 s with compile caches. 60 s is the low end.
DEFAULT_COLD_START_S: Final = 60.0

# avg_power_watts of ml-energy rows 639-648 at their avg_batch_size (rounded). Below batch 8
# flat: §9 measured batch 1 and batch 8 within 1-3 % of each other (537.6 / 541.5 W).
# fmt: off
_H100_POWER_POINTS: Final = (
    (8.0, 486.0), (16.0, 513.0), (31.9, 560.0), (63.9, 610.0), (95.7, 644.0),
    (127.6, 669.0), (191.7, 688.0), (255.2, 691.0), (383.0, 687.0), (510.9, 688.0),
)
# fmt: on

H100_8B: Final = ReplicaModel(
    name="h100-8b",
    # Least squares of median_itl_ms on avg_batch_size over ml-energy rows 639-648
    # (max_num_seqs 8..512): 6.34 ms + 0.0802 ms per sequence (tests refit it from the file).
    decode_step_base_ms=6.34,
    decode_step_per_seq_ms=0.0802,
    # ml-energy row 649: at max_num_seqs 768 the batch stays at 691 (KV-cache bound); 512 is the
    # largest limit the engine reached in full (row 648, avg batch 510.9).
    max_batch=512,
    prefill_tokens_per_s=_PREFILL_TOKENS_PER_S,
    prefill_chunk_tokens=_PREFILL_CHUNK_TOKENS,
    decode_power_points=_H100_POWER_POINTS,
    # splitwise/power_constant.yaml: prompt_power h100-80gb 700 W, idle_power 75 W.
    prefill_power_w=700.0,
    no_process_idle_power_w=75.0,
    # [E] §9's held-idle / no-process ratio on the H200 (124.2 / 80.7 W, means of two runs)
    # applied to the H100's 75 W: 115 W.
    held_idle_power_w=115.0,
    cold_start_s=DEFAULT_COLD_START_S,
    source="ml-energy Llama-3.1-8B on H100 (rows 639-649); Splitwise prefill, power constants",
    max_power_limit_w=get_model("H100").power_limit_max_w,
    curve_p0_w=get_model("H100").curve_p0_w,
)

H200_8B: Final = ReplicaModel(
    name="h200-8b",
    # §9 decode table, step ms at batch 1/8/32/128 (means of the two runs: 4.345, 4.74, 5.485,
    # 10.1): least squares 4.25 ms + 0.0453 ms per sequence.
    decode_step_base_ms=4.25,
    decode_step_per_seq_ms=0.0453,
    max_batch=128,  # the largest batch §9 measured
    prefill_tokens_per_s=_PREFILL_TOKENS_PER_S,  # [E] same dense bf16 peak as the H100
    prefill_chunk_tokens=_PREFILL_CHUNK_TOKENS,
    # §9 power at batch 1/8/32/128, means of the two runs (128: one run, at the limit).
    decode_power_points=((1.0, 526.4), (8.0, 534.1), (32.0, 622.5), (128.0, 692.5)),
    prefill_power_w=690.3,  # §9 matrix work, mean of 691.2 and 689.3 W
    held_idle_power_w=124.2,  # §9 idle with a CUDA context, mean of 127.2 and 121.1 W
    no_process_idle_power_w=80.7,  # §9 idle, no process, mean of 81.9 and 79.5 W
    cold_start_s=DEFAULT_COLD_START_S,
    source="docs/gpu-model.md section 9 (one H200, 2026-11-29); Splitwise prefill",
    max_power_limit_w=get_model("H200").power_limit_max_w,
    curve_p0_w=get_model("H200").curve_p0_w,
)

PRESETS: Final[dict[str, ReplicaModel]] = {m.name: m for m in (H100_8B, H200_8B)}
