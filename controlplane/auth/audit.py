"""Audit lines: who did what, to which object, with what result. One event name: `audit`.

Every state-changing call is written (allowed or not), and every refused call of any
kind. Tokens appear by id only; request bodies are never logged.
"""

from __future__ import annotations

import structlog

log = structlog.get_logger("aiwo.audit")


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
    else:
        log.warning("audit", **fields)
