"""docs/security.md states the same tables as the code."""

from __future__ import annotations

import re
from pathlib import Path

from controlplane.auth.permissions import ALL_PERMISSIONS, ROLE_PERMISSIONS, RULES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
ROLES = ("admin", "operator", "workload", "viewer", "gateway")


def test_the_roles_table_matches_the_code() -> None:
    granted: dict[str, set[str]] = {role: set() for role in ROLES}
    documented: set[str] = set()
    for line in DOC.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not cells[0].startswith("`"):
            continue
        permissions = set(re.findall(r"`([a-z]+\.[a-z]+)`", cells[0])) & ALL_PERMISSIONS
        documented |= permissions
        for role, cell in zip(ROLES, cells[1:], strict=True):
            if cell:
                granted[role] |= permissions
    assert documented == ALL_PERMISSIONS
    assert granted == {role: set(ROLE_PERMISSIONS[role]) for role in ROLES}


def test_every_method_with_a_rule_is_documented() -> None:
    for method in RULES:
        service, name = method.strip("/").split("/")
        if service.startswith("aiwo."):
            assert re.search(rf"\b{name}\b", DOC), f"{method} is not in docs/security.md"
