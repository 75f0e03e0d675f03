"""GPU model specs: the simulated backend's parameters and the names NVML reports.

Every number comes from /work/shared/data/gpu-models.md (here "gpu-models.md"), section 1 unless
noted; a footnote letter (a–j, s) names that file's source. `estimated` lists the fields that
file marks [E] (no primary source) or that are derived here; [D] datasheet values count as
sourced. Specs are frozen; callers that need other numbers build a `GpuModel` with
`dataclasses.replace` and pass it to the simulator.

Throughput-curve parameters (`curve_alpha`, `curve_p0_w`) belong to the performance model of
gpumodel/perf.py (gpu-models.md section 2): the V100 uses the fit to the Zeus traces
(alpha 0.43, P0 36 W); every other model uses the recommended alpha 0.45 and
P0 = 0.21 x max power limit, the mean P0/max-limit ratio of the three fitted GPUs
(36/250, 83/300, 55/260) — an estimate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

FormFactor = Literal["sxm", "pcie"]

# Mean of P0 / max power limit over the Zeus fits in gpu-models.md section 2 (calc).
P0_FRACTION_OF_MAX_LIMIT: Final = 0.21
# gpu-models.md section 2, "Recommended simulator model": alpha ~0.45 for training/prefill.
DEFAULT_CURVE_ALPHA: Final = 0.45
# Lowest SM clock a lock may ask for [E]: not in gpu-models.md; NVIDIA datacenter parts list
# supported graphics clocks down to roughly 200 MHz. Only bounds the simulator's lock range.
DEFAULT_MIN_SM_CLOCK_MHZ: Final = 210


@dataclass(frozen=True, slots=True)
class GpuModel:
    name: str
    memory_total_mib: int
    power_limit_min_w: float
    power_limit_max_w: float
    power_limit_default_w: float
    idle_power_w: float
    max_sm_clock_mhz: int
    fp16_tflops: float  # dense FP16/BF16 tensor TFLOPS
    form_factor: FormFactor  # "sxm": NVLink/NVSwitch boards; "pcie": no NVLink in the simulator
    curve_alpha: float  # exponent of the throughput-vs-cap curve (perf.py)
    curve_p0_w: float  # power at which the fitted curve reaches zero throughput (perf.py)
    source: str  # where the numbers come from, one line
    estimated: tuple[str, ...] = ()  # fields that are estimates
    min_sm_clock_mhz: int = DEFAULT_MIN_SM_CLOCK_MHZ


def _p0(max_limit_w: float) -> float:
    return round(P0_FRACTION_OF_MAX_LIMIT * max_limit_w, 1)


_A, _V100_ALPHA, _V100_P0 = DEFAULT_CURVE_ALPHA, 0.43, 36.0  # V100: the Zeus fit, §2
_CURVE = ("curve_alpha", "curve_p0_w")
_POWER = ("power_limit_min_w", "power_limit_max_w", "power_limit_default_w", "idle_power_w")

# Sources are gpu-models.md section 1 footnotes; [D] datasheet, [E] estimate.
_Row = tuple[
    str, int, float, float, float, float, int, float, FormFactor, float, float, str, tuple[str, ...]
]

# fmt: off
_ROWS: Final[tuple[_Row, ...]] = (
    # name       memory  PL min  max  default idle  SM MHz  FP16 TF  form    alpha  P0 W
    ("H100",      81559,  200,  700,  700,    75,   1980,   989,     "sxm",  _A, _p0(700),
     "H100 SXM 80GB: memory, limits a,b; idle 75 W c (92-96 W in P0, a); clock, TFLOPS [D]",
     _CURVE),
    ("H200",     143771,  200,  700,  700,    80,   1980,   989,     "sxm",  _A, _p0(700),
     "H200 SXM: [D]; memory, limits, idle (79.5-81.9 W), clock read through NVML on one H200, "
     "2026-11-29 (docs/gpu-model.md section 9)",
     _CURVE),
    ("A100-80GB", 81920,  100,  400,  400,    63,   1410,   312,     "sxm",  _A, _p0(400),
     "A100 SXM 80GB: memory 80 GiB [D]; limits, clock d; idle c; TFLOPS [D]",
     _CURVE),
    ("A100-40GB", 40960,  150,  250,  250,    35,   1410,   312,     "pcie", _A, _p0(250),
     "A100 PCIe 40GB: [D]; min limit, idle [E]",
     ("power_limit_min_w", "idle_power_w", *_CURVE)),
    ("L4",        23034,   40,   72,   72,    27,   2040,   121,     "pcie", _A, _p0(72),
     "L4: e (idle is the P0 reading at 2% util); TFLOPS [D]",
     _CURVE),
    ("A10",       23028,  100,  150,  150,    21,   1695,   125,     "pcie", _A, _p0(150),
     "A10: f; TFLOPS [D]",
     _CURVE),
    ("T4",        15109,   60,   70,   70,    14,   1590,    65,     "pcie", _A, _p0(70),
     "T4: memory g; limits, idle, clock h; TFLOPS [D]",
     _CURVE),
    ("V100-32GB", 32510,  150,  300,  300,    33,   1530,   125,     "sxm",  _V100_ALPHA, _V100_P0,
     "V100 SXM2 32GB: memory g; limits, clock i; idle 33 W, the low end of 33-57 W (i)",
     ()),
    ("V100-16GB", 16160,  150,  300,  300,    33,   1530,   125,     "sxm",  _V100_ALPHA, _V100_P0,
     "V100 SXM2 16GB: memory g; max limit, clock [D]; min limit, idle as 32GB [E]",
     ("power_limit_min_w", "idle_power_w")),
    ("P100",      16280,  125,  250,  250,    30,   1330,    18.7,   "pcie", _A, _p0(250),
     "P100 PCIe 16GB: memory g; limits j; idle, clock [E]; TFLOPS [D]",
     ("idle_power_w", "max_sm_clock_mhz", *_CURVE)),
    # Alibaba v2023 codes G2/G3 are undisclosed GPUs (gpu-models.md "Alibaba v2023 models").
    # G2, guessed RTX 2080 Ti there: memory is the trace simulator's "2080" entry (g); the power,
    # clock and TFLOPS figures are NOT in gpu-models.md: RTX 2080 Ti reference-board values
    # (250 W, 1545 MHz boost, 107.6 FP16 tensor TFLOPS), a 100 W floor and 25 W idle [E].
    ("G2",        11019,  100,  250,  250,    25,   1545,   107.6,   "pcie", _A, _p0(250),
     "Alibaba G2: undisclosed, RTX 2080 Ti guess [E]; memory g; rest not in gpu-models.md",
     (*_POWER, "max_sm_clock_mhz", "fp16_tflops", *_CURVE)),
    # G3: "node shape suggests A100-class" -> the A100 SXM 80GB row, every field an estimate.
    ("G3",        81920,  100,  400,  400,    63,   1410,   312,     "sxm",  _A, _p0(400),
     "Alibaba G3: undisclosed, A100-class guess [E]; the A100-80GB row",
     ("memory_total_mib", *_POWER, "max_sm_clock_mhz", "fp16_tflops", *_CURVE)),
)
# fmt: on


def _build(row: _Row) -> GpuModel:
    name, mem, lo, hi, default, idle, clock, tflops, form, alpha, p0, src, est = row
    return GpuModel(
        name, mem, lo, hi, default, idle, clock, tflops, form, alpha, p0,
        source=f"gpu-models.md §1 {src}", estimated=est,
    )  # fmt: skip


_MODELS: Final[tuple[GpuModel, ...]] = tuple(_build(row) for row in _ROWS)

# Other spellings, upper-cased. The trace codes V100M32 / V100M16 come from the Alibaba trace;
# "A100" alone means the 80GB SXM part (what the trace simulator's "A100" entry names, source g).
_ALIASES: Final[dict[str, str]] = {
    "V100M32": "V100-32GB",
    "V100M16": "V100-16GB",
    "A100": "A100-80GB",
}

_BY_NAME: Final[dict[str, GpuModel]] = {m.name.upper(): m for m in _MODELS}


class UnknownGpuModelError(KeyError):
    def __init__(self, name: str) -> None:
        known = ", ".join(known_models())
        super().__init__(f"unknown GPU model {name!r}; known models: {known}")
        self.name = name

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


def known_models() -> list[str]:
    """Canonical model names, then aliases, as accepted by `get_model`."""
    return [m.name for m in _MODELS] + sorted(_ALIASES)


def canonical_model_name(name: str) -> str:
    """The canonical spelling of a known model or alias; an unknown name comes back unchanged.

    Placement should compare models through this, so a trace's "V100M32" matches a GPU that
    reports "V100-32GB".
    """
    key = name.strip().upper()
    key = _ALIASES.get(key, key)
    model = _BY_NAME.get(key)
    return model.name if model else name


def get_model(name: str) -> GpuModel:
    """Look a model up by name or alias, case-insensitively; `UnknownGpuModelError` otherwise."""
    key = name.strip().upper()
    model = _BY_NAME.get(_ALIASES.get(key, key))
    if model is None:
        raise UnknownGpuModelError(name)
    return model


# NVML device names ("NVIDIA H100 80GB HBM3", "Tesla V100-SXM2-32GB", "NVIDIA A100-SXM4-80GB")
# to canonical models. Ordered: the first match wins, so H200 precedes H100 and A100 precedes A10.
_NVML_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"\bH200\b"), "H200"),
    (re.compile(r"\bH100\b"), "H100"),
    (re.compile(r"\bA100\b.*80\s*GB"), "A100-80GB"),
    (re.compile(r"\bA100\b"), "A100-40GB"),
    (re.compile(r"\bL4\b"), "L4"),
    (re.compile(r"\bA10\b"), "A10"),
    (re.compile(r"\bT4\b"), "T4"),
    (re.compile(r"\bV100S?\b.*32\s*GB"), "V100-32GB"),
    (re.compile(r"\bV100\b"), "V100-16GB"),
    (re.compile(r"\bP100\b"), "P100"),
)


def model_from_nvml_name(nvml_name: str) -> str:
    """The canonical model for an NVML device name, or a cleaned-up form of the name itself.

    Unknown parts keep their identity ("NVIDIA L40S" -> "L40S") rather than being guessed.
    """
    upper = nvml_name.upper()
    for pattern, model in _NVML_PATTERNS:
        if pattern.search(upper):
            return model
    cleaned = re.sub(r"^((NVIDIA|TESLA|QUADRO|GEFORCE)\s+)+", "", nvml_name.strip(), flags=re.I)
    return re.sub(r"\s+", "-", cleaned) or "unknown"
