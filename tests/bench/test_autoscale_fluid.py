"""The fluid model against the exact per-request simulation of the same replicas.

Stated tolerance: on a few minutes of the Azure conversation trace's requests at half and at
~full load, the share of requests within SLO agrees within 5 percentage points and the mean
TPOT within 10 %. The same holds for a replica at an SM clock lock or a power cap (the aiwo
policy's energy setting), both simulations taking the model at that setting, at prefill
utilisations up to 0.6 (what the chooser allows: 0.7) and in overload. Between (prefill 75 %
busy at clock 0.6) the fluid TPOT reads 17-23 % above the exact one, attainment within
2.4 points: the fluid model is pessimistic there.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.autoscale import azure, exact
from bench.autoscale.fluid import FluidService, Targets, decode_life_s, good_requests, mean_tpot_ms
from gpumodel.serving import H100_8B, ReplicaModel, ReplicaSetting
from tests.bench.autoscale_helpers import AZURE_CONV, requests

TARGETS = Targets(ttft_ms=2000.0, tpot_ms=50.0)
SLOW = H100_8B.at(ReplicaSetting(sm_clock_ratio=0.6))
CAPPED = H100_8B.at(ReplicaSetting(cap_fraction=0.7))
MODELS = [H100_8B, SLOW, CAPPED]


def _fluid(t, p, o, seconds, replicas, model: ReplicaModel = H100_8B):  # type: ignore[no-untyped-def]
    d = azure.from_requests(t, p, o, seconds, "test")
    s = FluidService(model)
    wait, step, tpot, drop = (np.zeros(seconds) for _ in range(4))
    for i in range(seconds):
        wait[i], step[i], tpot[i], _, _, drop[i] = s.step(
            replicas, 0, d.arrivals[i], d.prompt_tokens[i], d.decode_requests[i],
            d.decode_tokens[i],
        )  # fmt: skip
    life = decode_life_s(d, TARGETS)
    good = good_requests(d, 0, seconds, wait, step, tpot, drop, TARGETS, model, life)
    per = mean_tpot_ms(tpot, life)
    mean_tpot = float((per * d.decode_requests).sum() / d.decode_requests.sum())
    return 100.0 * good.sum() / d.arrivals.sum(), mean_tpot


def _exact(t, p, o, replicas, model: ReplicaModel = H100_8B):  # type: ignore[no-untyped-def]
    r = exact.simulate(t, p, o, replicas, model)
    ok = (r.ttft_ms <= TARGETS.ttft_ms) & ((o < 2) | (r.tpot_ms <= TARGETS.tpot_ms))
    return 100.0 * ok.mean(), float(np.nanmean(r.tpot_ms))


@pytest.mark.skipif(not AZURE_CONV.exists(), reason="shared data not mounted")
@pytest.mark.parametrize(
    ("copies", "replicas", "model"),
    [(2, 2, H100_8B), (4, 3, H100_8B), (6, 4, H100_8B), (2, 3, SLOW), (4, 5, SLOW),
     (6, 4, SLOW), (2, 2, CAPPED), (4, 4, CAPPED)],
    ids=["half", "full", "over", "slow-half", "slow-full", "slow-over", "capped-half",
         "capped-full"],
)  # fmt: skip
def test_fluid_matches_exact_on_the_azure_trace(
    copies: int, replicas: int, model: ReplicaModel
) -> None:
    trace = azure.read(AZURE_CONV)
    seconds = 600
    rng = np.random.default_rng(0)
    t0, p0, o0 = (x for x in azure._window(trace, 0, seconds))
    t = np.concatenate([(t0 + rng.uniform(0, 60)) % seconds for _ in range(copies)])
    p, o = np.tile(p0, copies), np.tile(o0, copies)
    order = np.argsort(t)
    t, p, o = t[order], p[order], o[order]
    exact_pct, exact_tpot = _exact(t, p, o, replicas, model)
    fluid_pct, fluid_tpot = _fluid(t, p, o, seconds, replicas, model)
    assert fluid_pct == pytest.approx(exact_pct, abs=5.0)
    assert fluid_tpot == pytest.approx(exact_tpot, rel=0.10)


@pytest.mark.parametrize("model", MODELS, ids=["default", "clock-0.6", "cap-0.7"])
def test_fluid_matches_exact_on_synthetic_load(model: ReplicaModel) -> None:
    """Steady Poisson load at two levels, fixed lengths: no data needed."""
    for rate, replicas in ((10.0, 1), (40.0, 2)):
        t, p, o, seconds = requests([(300, rate)], prompt=300, output=120)
        exact_pct, exact_tpot = _exact(t, p, o, replicas, model)
        fluid_pct, fluid_tpot = _fluid(t, p, o, seconds, replicas, model)
        assert fluid_pct == pytest.approx(exact_pct, abs=5.0)
        assert fluid_tpot == pytest.approx(exact_tpot, rel=0.10)


def test_overload_fails_requests_and_copy_keeps_the_whole_state() -> None:
    s = FluidService(H100_8B, timeout_s=5.0)
    dropped = 0.0
    for _ in range(60):  # ten times what one replica prefills
        dropped += s.step(1, 0, 100.0, 100.0 * 1200, 100.0, 100.0 * 100)[5]
    assert dropped > 0
    assert s.batch > 0 and s.q_tokens > 0
    c = s.copy()
    for name in ("q_tokens", "q_requests", "q_dreq", "q_dtok", "batch", "decode_left"):
        assert getattr(c, name) == getattr(s, name)
    assert c.step(2, 0, 1.0, 100.0, 1.0, 10.0) == s.step(2, 0, 1.0, 100.0, 1.0, 10.0)
