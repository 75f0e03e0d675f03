"""The dependency rules between aiwo's packages (DESIGN.md: dependency direction), one test each.

Each rule runs in a fresh interpreter: modules that other tests imported cannot hide a violation,
and the check sees what importing a package really loads, transitively. The probe imports every
module of the package (found by walking it, so new modules and subpackages are covered without
editing this file) one at a time and names the first module that pulled in each forbidden one.

Every top-level package in the repository must appear in TOP_LEVEL_RULES: a new package fails
`test_every_package_has_a_rule` until someone decides what it may import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Rule:
    """What the modules under `package` may import.

    deny: module prefixes that must not be loaded. allow: prefixes exempt from `deny` (checked
    first). only: if set, every loaded module outside the standard library must have one of these
    top-level names.
    """

    name: str
    package: str
    deny: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    only: tuple[str, ...] | None = None
    # Modules the walk must have reached: proof that discovery covered the package.
    expect: tuple[str, ...] = field(default=())


SERVER_SIDE = ("controlplane", "nodeagent", "bench", "gateway")

RULES: tuple[Rule, ...] = (
    Rule(
        name="sdk_imports_no_server_side",
        package="sdk",
        deny=SERVER_SIDE,
        expect=("sdk._client", "sdk.cli.main", "sdk.examples.inference_service"),
    ),
    Rule(name="nodeagent_imports_no_controlplane", package="nodeagent", deny=("controlplane",)),
    Rule(name="controlplane_imports_no_nodeagent", package="controlplane", deny=("nodeagent",)),
    Rule(name="gpumodel_imports_only_numpy", package="gpumodel", only=("gpumodel", "numpy")),
    Rule(
        # The pure core: time and randomness come in as arguments, nothing talks to the world
        # (tests/optimizer/autoscale/test_purity.py also checks its sources for clocks).
        name="optimizer_is_pure",
        package="controlplane.optimizer",
        deny=("grpc", "aetcd", "etcd3", "asyncio", "controlplane", "nodeagent", "sdk"),
        # The bare `controlplane` package (its __init__) is loaded as the optimizer's parent.
        allow=("controlplane.optimizer",),
        expect=(
            "controlplane.optimizer.optimize",
            "controlplane.optimizer.runtime",
            "controlplane.optimizer.autoscale.plan",
        ),
    ),
    Rule(
        name="gateway_imports_no_controlplane_or_nodeagent",
        package="gateway",
        deny=("controlplane", "nodeagent", "bench"),
        expect=("gateway.proxy", "gateway.main"),
    ),
)

# Top-level package -> the rules that constrain it (bench may import anything: it drives both
# sides). A package missing here fails test_every_package_has_a_rule.
TOP_LEVEL_RULES: dict[str, tuple[str, ...]] = {
    "sdk": ("sdk_imports_no_server_side",),
    "controlplane": ("controlplane_imports_no_nodeagent", "optimizer_is_pure"),
    "nodeagent": ("nodeagent_imports_no_controlplane",),
    "gpumodel": ("gpumodel_imports_only_numpy",),
    "gateway": ("gateway_imports_no_controlplane_or_nodeagent",),
    "bench": (),
}

PROBE = """
import importlib, json, pkgutil, sys
rule = json.loads(sys.argv[1])
deny, allow, only = rule["deny"], rule["allow"], rule["only"]

def under(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)

def bad(name):
    if only is not None:
        top = name.split(".")[0]
        return top not in sys.stdlib_module_names and top not in only
    if under(name, allow):
        return False
    # A parent package of the rule's own package is loaded by the import system itself.
    if rule["package"].startswith(name + "."):
        return False
    return under(name, deny)

# What the interpreter loaded before the first import (site hooks, the probe's own stdlib).
seen = set(sys.modules)
root = importlib.import_module(rule["package"])
names = [rule["package"]]
if hasattr(root, "__path__"):
    names += sorted(m.name for m in pkgutil.walk_packages(root.__path__, rule["package"] + "."))
culprits = {}
for name in names:
    importlib.import_module(name)
    for loaded in sorted(set(sys.modules) - seen):
        seen.add(loaded)
        if bad(loaded):
            culprits.setdefault(loaded, name)
print(json.dumps({"imported": names, "bad": culprits}))
"""


def top_level_packages() -> list[str]:
    return sorted(
        p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests"
    )


def run_probe(rule: Rule) -> dict[str, object]:
    spec = {"package": rule.package, "deny": rule.deny, "allow": rule.allow, "only": rule.only}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"probe for {rule.package} failed:\n{result.stderr}"
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule(rule: Rule) -> None:
    top = rule.package.split(".")[0]
    if top not in top_level_packages():
        pytest.skip(f"{top}/ is not in this tree")
    report = run_probe(rule)
    offenders = report["bad"]
    assert offenders == {}, (
        f"{rule.name}: forbidden module -> first module of {rule.package} that loaded it: "
        f"{offenders}"
    )
    imported = report["imported"]
    assert isinstance(imported, list)
    for expected in rule.expect:
        assert expected in imported, f"the walk of {rule.package} missed {expected}"


def test_every_package_has_a_rule() -> None:
    missing = [p for p in top_level_packages() if p not in TOP_LEVEL_RULES]
    assert missing == [], f"new top-level packages without a layering decision: {missing}"
    names = {r.name for r in RULES}
    for rules in TOP_LEVEL_RULES.values():
        assert set(rules) <= names


def test_the_probe_catches_a_violation() -> None:
    # The checker itself: sdk with `grpc` denied must report it (sdk's client is built on grpc).
    report = run_probe(Rule(name="probe_self_check", package="sdk", deny=("grpc",)))
    offenders = report["bad"]
    assert isinstance(offenders, dict) and "grpc" in offenders
