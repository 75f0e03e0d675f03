"""Runs (policy, seed) jobs over worker processes; each worker reads the trace once."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bench.sim import SeedResult, run_seed
from bench.trace import Pod, read_nodes, read_pods
from controlplane.optimizer.types import NodeView

_trace: tuple[list[NodeView], list[Pod]] | None = None


def _load(nodes: Path, pods: Path) -> None:
    global _trace
    _trace = (read_nodes(nodes), read_pods(pods))


def _job(job: tuple[str, int, float]) -> SeedResult:
    assert _trace is not None
    policy, seed, tune = job
    return run_seed(_trace[0], _trace[1], policy, seed, tune)


def run_jobs(
    nodes: Path,
    pods: Path,
    policies: Sequence[str],
    seeds: Sequence[int],
    tune: float,
    workers: int,
    on_result: Callable[[SeedResult], None] | None = None,
) -> list[SeedResult]:
    # Read once here first, so a malformed trace fails before any worker starts.
    _load(nodes, pods)
    jobs = [(p, s, tune) for p in policies for s in seeds]
    results: list[SeedResult] = []
    for r in _iterate(jobs, nodes, pods, workers):
        results.append(r)
        if on_result:
            on_result(r)
    order = {(p, s): i for i, (p, s, _) in enumerate(jobs)}
    return sorted(results, key=lambda r: order[(r.policy, r.seed)])


def _iterate(
    jobs: list[tuple[str, int, float]], nodes: Path, pods: Path, workers: int
) -> Iterator[SeedResult]:
    if workers <= 1 or len(jobs) == 1:
        yield from map(_job, jobs)
        return
    # fork: workers inherit the trace already read above and start at once.
    with mp.get_context("fork").Pool(workers, initializer=_load, initargs=(nodes, pods)) as pool:
        yield from pool.imap_unordered(_job, jobs)
