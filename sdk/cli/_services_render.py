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

from sdk import Event, Replica, ReplicaState, Service, targets_text

_STATE_STYLE = {
    ReplicaState.READY: "green",
    ReplicaState.STARTING: "yellow",
    ReplicaState.PENDING: "yellow",
    ReplicaState.DRAINING: "cyan",
    ReplicaState.CRASH_LOOP: "red",
    ReplicaState.FAILED: "red",
}


_NAMES_KEPT_WHOLE = 24  # characters of namespace + name that 80 columns keep unwrapped


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
    if service.deleting:  # its replicas drain; neither a pin nor the autoscaler counts now
        return "deleting"
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
    # Names are what a reader copies: in 80 columns "2→1 1m ago" should wrap before a
    # namespace is cut into "team-researc" / "h". Only while the names leave the other
    # columns room (a no-wrap column is never narrowed, the others would be squeezed out).
    names = [(s.namespace if namespaces else "") + s.name for s in services]
    if max(map(len, names), default=0) <= _NAMES_KEPT_WHOLE:
        for column in table.columns[: 2 if namespaces else 1]:
            column.no_wrap = True
    return table


def _against(measured_ms: float, target_ms: float) -> Text:
    """ "812/2000" (p99 against its target, red when over); "-" when not measured."""
    if not measured_ms:
        return Text("-" if not target_ms else f"-/{target_ms:g}", style="dim")
    text = f"{measured_ms:.0f}" + (f"/{target_ms:g}" if target_ms else "")
    return Text(text, style="red" if target_ms and measured_ms > target_ms else "")


def top_table(services: Sequence[Service]) -> Table:
    """`aiwo top`: each service's replicas, demand and SLO (ms: p99 / target)."""
    table = _table("SERVICE", "READY", "RANGE", "REQ/S", "FLIGHT", "HELD", "TTFT ms", "TPOT ms")
    for s in services:
        slo = s.spec.template.slo
        d = s.demand
        ready = Text(f"{s.ready}/{s.desired}", style="green" if s.ready >= s.desired else "yellow")
        table.add_row(
            s.key, ready, f"{s.spec.min_replicas}-{s.spec.max_replicas}",
            f"{d.arrivals_per_s:.1f}", str(d.in_flight), str(d.queued),
            _against(d.ttft_p99_ms, slo.ttft_ms), _against(d.chunk_gap_p99_ms, slo.tpot_ms),
        )  # fmt: skip
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
        ("SLO", targets_text(slo)),
        ("Demand", _demand_line(service)),
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


def _demand_line(service: Service) -> str:
    d = service.demand
    if not d.window_s:
        return "- (no gateway has reported)"
    # 0 is "nothing measured" (no request answered in the window), not a 0 ms latency.
    ttft = f"{d.ttft_p99_ms:.0f} ms" if d.ttft_p99_ms else "-"
    gap = f"{d.chunk_gap_p99_ms:.0f} ms" if d.chunk_gap_p99_ms else "-"
    return (
        f"{d.arrivals_per_s:.1f} req/s, {d.in_flight} in flight, {d.queued} held;"
        f" p99 TTFT {ttft}, gap {gap} (last {d.window_s:.0f} s)"
    )


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
        "deleting": service.deleting,
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
        "demand": {
            "arrivals_per_s": service.demand.arrivals_per_s,
            "in_flight": service.demand.in_flight,
            "queued": service.demand.queued,
            "ttft_p99_ms": service.demand.ttft_p99_ms,
            "chunk_gap_p99_ms": service.demand.chunk_gap_p99_ms,
            "latency_p99_ms": service.demand.latency_p99_ms,
            "errors_per_s": service.demand.errors_per_s,
            "window_s": service.demand.window_s,
        },
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
