"""The autoscaler core is pure: it imports no grpc, etcd, asyncio or other controlplane layer,
and takes time and randomness as arguments (DESIGN.md; the optimizer's dependency rule).

Runs in a fresh interpreter so that modules other tests imported cannot hide a violation.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

import controlplane.optimizer.autoscale as autoscale

PROBE = """
import importlib, json, pkgutil, sys
import controlplane.optimizer.autoscale as pkg
names = sorted(m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."))
for name in names:
    importlib.import_module(name)
bad = sorted(
    m for m in sys.modules
    if m.split(".")[0] in ("grpc", "aetcd", "etcd3", "asyncio", "nodeagent", "sdk")
    or (m.startswith("controlplane.") and not m.startswith("controlplane.optimizer"))
)
print(json.dumps({"imported": names, "bad": bad}))
"""


def test_the_core_imports_nothing_impure() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["bad"] == [], f"the autoscale core pulled in: {report['bad']}"
    assert "controlplane.optimizer.autoscale.plan" in report["imported"]


def test_the_core_reads_no_clock_and_draws_no_random_numbers() -> None:
    root = pathlib.Path(autoscale.__file__).parent
    forbidden = re.compile(r"\bimport (time|random|datetime)\b|\btime\.(time|monotonic)\(")
    for path in sorted(root.glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            assert not forbidden.search(line), f"{path.name}:{number}: {line.strip()}"
