"""The same replicas simulated request by request, step by step: the fluid model's reference.

Each replica is a continuous-batching engine (gpumodel/serving.py): a step carries every running
sequence's next token and up to `prefill_chunk_tokens` of waiting prompts (FIFO), and takes
s0 + s1 x running + prompt tokens / R. A prompt finished in a step gives its first token at the
step's end; the sequence then gains one token per step. The gateway sends each request to the
replica with the fewest outstanding requests. Too slow for days of demand (a Python event per
step); used on minutes of it by tests/bench/test_autoscale_fluid.py.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from bench.autoscale.demand import F64
from gpumodel.serving import ReplicaModel


@dataclass
class _Replica:
    prompts: deque[list[float]] = field(default_factory=deque)  # [request, tokens left, started]
    running: list[tuple[int, int]] = field(default_factory=list)  # (finish clock, request)
    clock: int = 0  # decode steps taken
    busy_until: float | None = None
    step_prompts: list[int] = field(default_factory=list)  # finished by the step in progress
    step_decoding: int = 0

    @property
    def outstanding(self) -> int:
        return len(self.prompts) + len(self.running) + len(self.step_prompts)


@dataclass(frozen=True)
class ExactResult:
    ttft_ms: F64
    tpot_ms: F64  # NaN for requests of one token


def simulate(
    arrival_s: F64, prompt: F64, output: F64, replicas: int, model: ReplicaModel
) -> ExactResult:
    n = arrival_s.size
    first = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    reps = [_Replica() for _ in range(replicas)]
    events: list[tuple[float, int]] = []  # (step end, replica)
    i = 0

    def start_step(r: int, now: float) -> None:
        rep = reps[r]
        budget = model.prefill_chunk_tokens
        room = model.max_batch - len(rep.running)
        tokens = 0.0
        rep.step_prompts = []
        while rep.prompts and budget > 0:
            head = rep.prompts[0]
            if not head[2] and room <= 0:
                break  # a new prompt needs a batch slot
            take = min(budget, head[1])
            head[1] -= take
            head[2] = 1.0
            budget -= int(take)
            tokens += take
            if head[1] <= 0:
                rep.prompts.popleft()
                rep.step_prompts.append(int(head[0]))
                room -= 1
            if take <= 0:
                break
        rep.step_decoding = len(rep.running)
        if tokens <= 0 and rep.step_decoding == 0 and not rep.step_prompts:
            rep.busy_until = None
            return
        dur_ms = (
            model.decode_step_ms(rep.step_decoding) + 1000.0 * tokens / model.prefill_tokens_per_s
        )
        rep.busy_until = now + dur_ms / 1000.0
        heapq.heappush(events, (rep.busy_until, r))

    def end_step(r: int, now: float) -> None:
        rep = reps[r]
        if rep.step_decoding:
            rep.clock += 1
        while rep.running and rep.running[0][0] <= rep.clock:
            _, j = heapq.heappop(rep.running)
            finish[j] = now
        for j in rep.step_prompts:
            first[j] = now
            if output[j] >= 2:
                heapq.heappush(rep.running, (rep.clock + int(output[j]) - 1, j))
            else:
                finish[j] = now
        rep.step_prompts = []
        start_step(r, now)

    while i < n or events:
        next_arrival = float(arrival_s[i]) if i < n else np.inf
        if events and events[0][0] <= next_arrival:
            now, r = heapq.heappop(events)
            end_step(r, now)
            continue
        r = min(range(replicas), key=lambda k: reps[k].outstanding)
        reps[r].prompts.append([float(i), float(max(prompt[i], 1.0)), 0.0])
        i += 1
        if reps[r].busy_until is None:
            start_step(r, next_arrival)
    ttft = 1000.0 * (first - arrival_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(output >= 2, 1000.0 * (finish - first) / (output - 1), np.nan)
    return ExactResult(ttft, tpot)
