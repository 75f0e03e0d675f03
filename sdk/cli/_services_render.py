"""Services for people and for scripts: tables that fit 80 columns, and the JSON object of
`aiwo describe service -o json` (its keys are documented in docs/cli.md)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from sdk import Event, Replica, ReplicaState, Service

_STATE_STYLE = {
    ReplicaState.READY: "green",
    ReplicaState.STARTING: "yellow",
    ReplicaState.PENDING: "yellow",
    ReplicaState.DRAINING: "cyan",
    ReplicaState.CRASH_LOOP: "red",
    ReplicaState.FAILED: "red",
}


def _age(unix: float, now: float) -> str:
    if not unix:
        return "-"
    seconds = max(0.0, now - unix)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def scaling_text(service: Service) -> str:
    return "auto" if service.pinned is None else f"pinned {service.pinned}"


def last_scale_text(service: Service, now: float | None = None) -> str:
    scale = service.last_scale
    if scale is None or not scale.time_unix:
        return "-"
    when = _age(scale.time_unix, now if now is not None else time.time())
    return f"{scale.from_replicas}→{scale.to_replicas} {when} ago"


def services_table(services: Sequence[Service], *, namespaces: bool) -> Table:
    now = time.time()
    columns = ["NAME", "READY", "DESIRED", "RANGE", "SCALING", "LAST SCALE", "AGE"]
    table = _table(*(["NAMESPACE"] if namespaces else []), *columns)
    for s in services:
        ready = Text(f"{s.ready}/{s.desired}", style="green" if s.ready >= s.desired else "yellow")
        row: list[Any] = [
            s.name,
            ready,
            str(s.desired),
            f"{s.spec.min_replicas}-{s.spec.max_replicas}",
            scaling_text(s),
            last_scale_text(s, now),
            _age(s.created_unix, now),
        ]
        table.add_row(*([s.namespace] if namespaces else []), *row)
    return table


def replicas_table(replicas: Sequence[Replica], now: float) -> Table:
    table = _table("REPLICA", "NODE", "ENDPOINT", "STATE", "FOR", "RESTARTS", "MESSAGE")
    for r in sorted(replicas, key=lambda r: r.index):
        state = Text(str(r.state), style=_STATE_STYLE.get(r.state, ""))
        table.add_row(
            r.workload, r.node or "-", r.endpoint or "-", state,
            _age(r.state_since_unix, now), str(r.restarts), r.message,
        )  # fmt: skip
    return table


def service_view(service: Service, events: Sequence[Event] = ()) -> RenderableType:
    now = time.time()
    template = service.spec.template
    slo = template.slo
    targets = [
        f"{label} {value:g} ms"
        for label, value in (
            ("TTFT", slo.ttft_ms),
            ("TPOT", slo.tpot_ms),
            ("p99", slo.p99_latency_ms),
        )
        if value
    ]
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column(overflow="fold")
    command = " ".join(template.launch.command) if template.launch else ""
    for key, value in (
        ("Service", service.key),
        ("Replicas", f"{service.ready} ready of {service.desired} desired"
                     f" (range {service.spec.min_replicas}-{service.spec.max_replicas})"),
        ("Scaling", scaling_text(service)),
        ("Last scale", _last_scale_line(service, now)),
        ("Endpoints", ", ".join(service.endpoints) or "-"),
        ("Crash loop", str(service.crash_looping)),
        ("Failed", f"{service.replicas_failed} (replaced: not ready in time)"),
        ("SLO", ", ".join(targets) or "-"),
        ("Health", service.spec.health_path or "/healthz"),
        ("Command", command or "-"),
        ("Message", service.message or "-"),
        ("Age", _age(service.created_unix, now)),
    ):  # fmt: skip
        fields.add_row(key, value)
    parts: list[RenderableType] = [fields]
    if service.replicas:
        parts += [Text(""), replicas_table(service.replicas, now)]
    if events:
        table = _table("AGE", "KIND", "MESSAGE")
        for event in events:
            table.add_row(_age(event.time_unix, now), event.kind, event.message)
        parts += [Text(""), table]
    return Group(*parts)


def _last_scale_line(service: Service, now: float) -> str:
    scale = service.last_scale
    if scale is None or not scale.time_unix:
        return "-"
    return (
        f"{scale.from_replicas} → {scale.to_replicas}, {_age(scale.time_unix, now)} ago:"
        f" {scale.reason or '-'}"
    )


def service_json(service: Service) -> dict[str, Any]:
    """The object `describe service -o json` prints (and `services -o json` lists)."""
    scale = service.last_scale
    template = service.spec.template
    return {
        "name": service.name,
        "namespace": service.namespace,
        "replicas": service.ready,
        "desired": service.desired,
        "min": service.spec.min_replicas,
        "max": service.spec.max_replicas,
        "pinned": service.pinned,
        "endpoints": service.endpoints,
        "last_scale": (
            None
            if scale is None or not scale.time_unix
            else {
                "time": scale.time_unix,
                "from": scale.from_replicas,
                "to": scale.to_replicas,
                "reason": scale.reason,
            }
        ),
        "crash_loop": service.crash_looping,
        "failed": service.replicas_failed,
        "message": service.message,
        "slo": {
            "ttft_ms": template.slo.ttft_ms,
            "tpot_ms": template.slo.tpot_ms,
            "p99_latency_ms": template.slo.p99_latency_ms,
        },
        "health_path": service.spec.health_path or "/healthz",
        "command": list(template.launch.command) if template.launch else [],
        "created_unix": service.created_unix,
        "replica_list": [
            {
                "workload": r.workload,
                "index": r.index,
                "node": r.node,
                "endpoint": r.endpoint,
                "state": str(r.state),
                "state_since_unix": r.state_since_unix,
                "restarts": r.restarts,
                "message": r.message,
            }
            for r in sorted(service.replicas, key=lambda r: r.index)
        ],
    }
