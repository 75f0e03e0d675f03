"""The autoscaler core is pure: it takes time and randomness as arguments (DESIGN.md). That it
imports no grpc, etcd, asyncio, sdk, nodeagent or other controlplane layer is the optimizer's
rule in tests/test_layering.py (the autoscale core is under the optimizer)."""

from __future__ import annotations

import pathlib
import re

import controlplane.optimizer.autoscale as autoscale


def test_the_core_reads_no_clock_and_draws_no_random_numbers() -> None:
    root = pathlib.Path(autoscale.__file__).parent
    forbidden = re.compile(r"\bimport (time|random|datetime)\b|\btime\.(time|monotonic)\(")
    for path in sorted(root.glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            assert not forbidden.search(line), f"{path.name}:{number}: {line.strip()}"
