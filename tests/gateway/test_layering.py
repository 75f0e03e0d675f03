"""`gateway` imports sdk and nothing from controlplane, nodeagent or bench (DESIGN.md)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import importlib, json, pkgutil, sys
import gateway
names = sorted(m.name for m in pkgutil.walk_packages(gateway.__path__, "gateway."))
for name in names:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("controlplane", "nodeagent", "bench"))
print(json.dumps({"imported": names, "bad": bad}))
"""


def test_gateway_imports_nothing_from_the_server_side() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["bad"] == [], f"gateway pulled in: {report['bad']}"
    assert "gateway.proxy" in report["imported"] and "gateway.main" in report["imported"]
