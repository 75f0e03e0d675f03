"""`sdk` imports nothing from `controlplane` or `nodeagent` (DESIGN.md: dependency direction).

Runs in a fresh interpreter so that modules other tests imported cannot hide a violation.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import importlib, json, pkgutil, sys
import sdk
names = sorted(m.name for m in pkgutil.walk_packages(sdk.__path__, "sdk."))
for name in names:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("controlplane", "nodeagent", "bench"))
print(json.dumps({"imported": names, "bad": bad}))
"""


def test_sdk_imports_nothing_from_the_server_side() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["bad"] == [], f"sdk pulled in server-side modules: {report['bad']}"
    # The walk really covered the package, CLI and examples included.
    for expected in ("sdk._client", "sdk.cli.main", "sdk.examples.inference_service"):
        assert expected in report["imported"]
