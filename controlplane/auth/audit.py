"""Audit lines: who did what, to which object, with what result. One event name: `audit`.

Every state-changing call is written (allowed or not), and every refused call of any
kind. Tokens appear by id only; request bodies are never logged.
"""

from __future__ import annotations

import structlog
from prometheus_client import Counter

log = structlog.get_logger("aiwo.audit")

# Bounded labels: a status code and a service name. A rising count of UNAUTHENTICATED is
# someone guessing; of PERMISSION_DENIED, a token used beyond its role, or a node
# certificate used for another node.
REFUSALS = Counter(
    "aiwo_auth_refusals_total",
    "Calls refused by authentication (UNAUTHENTICATED) or authorization (PERMISSION_DENIED).",
    ["code", "service"],
)


def record(
    *,
    method: str,
    principal: str,
    role: str,
    result: str,
    object: str = "",
    peer: str = "",
    detail: str = "",
) -> None:
    fields: dict[str, str] = {
        "principal": principal,
        "role": role,
        "method": method.rsplit("/", 1)[-1],
        "service": method.strip("/").split("/", 1)[0],
        "result": result,
        "peer": peer,
    }
    if object:
        fields["object"] = object
    if detail:
        fields["detail"] = detail[:300]
    if result == "OK":
        log.info("audit", **fields)
        return
    log.warning("audit", **fields)
    if result in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        REFUSALS.labels(code=result, service=fields["service"]).inc()
