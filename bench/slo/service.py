"""A latency-critical LLM inference service, simulated in ticks (a fluid model of vLLM-style
continuous batching).

Service times are gpu-models.md §5's simulator defaults for a 7B FP16 model on an A100 [E]:
- prefill (time to first token): 5 ms + prompt tokens / 15k tokens/s (TensorRT-LLM's A100
  LLaMA-7B TTFT, 16 ms at 128 tokens and 133 ms at 2,048);
- decode step: t1 x (1 + B / 100) for a batch of B running requests (the fit to Splitwise's
  profiles), t1 = 15 ms between the roofline's 8-10 ms and unoptimized HF's 22 ms.
Both stretch with time-slicing and the GPU's cap exactly as perf.timeslice_service_time_ms
says (x (1 + co-runner duties) / throughput, + 1 ms switch with co-runners). Under a clock
lock, prefill slows as compute-bound work and decode as memory-bound (`decode_throughput`,
bench/slo/gpu.py).

Arrivals: a service with one fixed replica owns its requests (they arrive by the arrays); a
replica of a service that scales is given requests by the service's router (`admit`, the
gateway's least-outstanding choice), in arrival order.

Scheduling: prefills first, in arrival order (vLLM's default), decode in the time left, every
running request advancing one token per step. A request's latency is its time per output
token after the first (TPOT = (finish - first token) / (tokens - 1)): the streaming SLO of
DistServe and vLLM's benchmarks. Requests that generate one token have no TPOT and are not
counted.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gpumodel import perf


@dataclass(frozen=True, slots=True)
class ServiceParams:
    prefill_tokens_per_s: float = 15_000.0
    prefill_overhead_ms: float = 5.0
    decode_step_ms: float = 15.0  # t1: one decode step at batch 1
    batch_slope: float = 0.01  # step(B) = t1 (1 + slope B)


@dataclass
class LlmService:
    key: str
    arrival_s: npt.NDArray[np.float64]
    prompt_tokens: npt.NDArray[np.int64]
    output_tokens: npt.NDArray[np.int64]
    params: ServiceParams = field(default_factory=ServiceParams)
    latency_factor: float = 1.0  # of the active model variant
    routed: bool = False  # True: requests come only through `admit`
    _next: int = 0
    _inbox: deque[int] = field(default_factory=deque)  # admitted, not yet arrived here
    _prefill: deque[int] = field(default_factory=deque)
    _prefill_left_ms: float = 0.0  # alone-ms left of the head request's prefill
    _running: list[tuple[float, int]] = field(default_factory=list)  # (token clock at end, i)
    _first_token_s: dict[int, float] = field(default_factory=dict)
    _tokens: float = 0.0  # the decode token clock: steps taken so far

    def has_work(self, until_s: float) -> bool:
        if self.routed:
            arriving = bool(self._inbox) and self.arrival_s[self._inbox[0]] < until_s
        else:
            arriving = self._next < self.arrival_s.size and self.arrival_s[self._next] < until_s
        return bool(self._prefill or self._running or arriving)

    def admit(self, i: int) -> None:
        """Request i (of the service's arrays) is this replica's: the router chose it."""
        self._inbox.append(i)

    @property
    def outstanding(self) -> int:
        """Requests given to this replica and not finished (the router's measure)."""
        return len(self._inbox) + len(self._prefill) + len(self._running)

    def advance(
        self,
        t0: float,
        dt: float,
        co_duties: list[float],
        throughput: float,
        decode_throughput: float | None = None,
    ) -> tuple[float, list[tuple[int, float]]]:
        """Run [t0, t0 + dt). Returns (busy fraction, [(request, TPOT ms), ...] finished).

        throughput: prefill's speed (compute-bound); decode_throughput: a decode step's
        (None = the same)."""
        end = t0 + dt
        while True:
            if self.routed:
                if not self._inbox or self.arrival_s[self._inbox[0]] >= end:
                    break
                i = self._inbox.popleft()
            else:
                if self._next >= self.arrival_s.size or self.arrival_s[self._next] >= end:
                    break
                i = self._next
                self._next += 1
            self._prefill.append(i)
            if len(self._prefill) == 1:
                self._prefill_left_ms = self._prefill_alone_ms(i)
        prefill_ms, joined = self._run_prefills(t0, end, co_duties, throughput)
        decode_ms = max(0.0, dt * 1000.0 - prefill_ms)
        step_alone = (
            self.params.decode_step_ms
            * self.latency_factor
            * (1.0 + self.params.batch_slope * len(self._running))
        )
        step_ms = perf.timeslice_service_time_ms(
            step_alone,
            co_duties,
            throughput=throughput if decode_throughput is None else decode_throughput,
        )
        gained = decode_ms / step_ms if step_ms > 0 else 0.0
        clock0 = self._tokens
        for first_token, i in joined:  # join the token clock where it stands at first token
            at = clock0 + gained * (first_token - t0) / dt
            heapq.heappush(self._running, (at + float(self.output_tokens[i] - 1), i))
            self._first_token_s[i] = first_token
        self._tokens = clock0 + gained
        done = []
        while self._running and self._running[0][0] <= self._tokens:
            target, i = heapq.heappop(self._running)
            finish = t0 + dt * ((target - clock0) / gained if gained > 0 else 1.0)
            first = self._first_token_s.pop(i)
            n = int(self.output_tokens[i])
            if n >= 2:
                done.append((i, 1000.0 * max(0.0, finish - first) / (n - 1)))
        busy_ms = prefill_ms + (decode_ms if self._running or done or joined else 0.0)
        return min(1.0, busy_ms / (dt * 1000.0)), done

    def _prefill_alone_ms(self, i: int) -> float:
        p = self.params
        return (
            p.prefill_overhead_ms + 1000.0 * float(self.prompt_tokens[i]) / p.prefill_tokens_per_s
        )

    def _run_prefills(
        self, t0: float, end: float, co_duties: list[float], throughput: float
    ) -> tuple[float, list[tuple[float, int]]]:
        """Prefill in arrival order from t0; returns (ms spent, [(first-token time, i)])."""
        stretch = perf.timeslice_service_time_ms(
            1.0, co_duties, switch_ms=0.0, throughput=throughput
        )
        cursor = t0
        spent_ms = 0.0
        joined = []
        while self._prefill:
            i = self._prefill[0]
            start = max(cursor, float(self.arrival_s[i]))
            if start >= end:
                break
            need_s = self._prefill_left_ms * stretch / 1000.0
            if start + need_s > end:
                ran_s = end - start
                self._prefill_left_ms -= ran_s * 1000.0 / stretch
                spent_ms += ran_s * 1000.0
                break
            spent_ms += need_s * 1000.0
            cursor = start + need_s
            joined.append((cursor, i))
            self._prefill.popleft()
            if self._prefill:
                self._prefill_left_ms = self._prefill_alone_ms(self._prefill[0])
        return spent_ms, joined
