"""Tables and JSON for the CLI, built from the SDK's public dataclasses only.

JSON: one object per item, keys the API message's snake_case field names (the
dataclasses use exactly those names), enums as their short lowercase names ("ready",
"not_ready", "placed"), times as unix seconds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from sdk import (
    Description,
    Event,
    Explanation,
    Gpu,
    Node,
    NodeState,
    Workload,
    WorkloadPhase,
    targets_text,
)

# Piped without COLUMNS (a log file, `| grep`): wide enough that a row never wraps; rich
# would assume 80. A table is only as wide as its cells, so this is a ceiling, not padding.
PIPED_WIDTH = 240


def output_width(is_terminal: bool, environ: Mapping[str, str] | None = None) -> int | None:
    """The width to draw at: COLUMNS when it is a positive number (a terminal, `watch`, a CI
    log, `COLUMNS=100 aiwo nodes | less`); else, on a terminal, its own (None: rich asks the
    terminal), and piped, PIPED_WIDTH."""
    columns = (os.environ if environ is None else environ).get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if is_terminal else PIPED_WIDTH


def console() -> Console:
    """stdout, at `output_width`."""
    probe = Console()
    return Console(width=output_width(probe.is_terminal), soft_wrap=False)


def to_json(value: Any) -> str:
    """An SDK dataclass, or a list of them, as JSON text."""
    if isinstance(value, list | tuple):
        data: Any = [dataclasses.asdict(item) for item in value]
    else:
        data = dataclasses.asdict(value)
    return json.dumps(data, indent=2, sort_keys=False)


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def age(unix: float, now: float | None = None) -> str:
    """Seconds since `unix` as "42s", "5m", "3h", "2d"; "-" for never."""
    if not unix:
        return "-"
    seconds = max(0.0, (now if now is not None else time.time()) - unix)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def gpus_of_milli(milli: int) -> str:
    """Milli-GPUs as a GPU count: 2500 -> "2.5"."""
    return f"{milli / 1000:g}"


def node_status(node: Node) -> Text:
    label = {NodeState.READY: "Ready", NodeState.NOT_READY: "NotReady"}.get(node.state, "Unknown")
    style = "green" if node.state == NodeState.READY else "red"
    text = Text(label, style=style)
    if node.cordoned:
        text.append(",Cordoned", style="yellow")
    return text


def node_health(node: Node) -> Text:
    if not node.unhealthy_gpus:
        return Text("all GPUs healthy", style="green")
    return Text(
        "; ".join(f"GPU {i} unhealthy: {why}" for i, why in sorted(node.unhealthy_gpus.items())),
        style="red",
    )


def nodes_table(nodes: Sequence[Node]) -> Table:
    table = _table(
        "NAME", "STATUS", "GPUS", "MODEL", "ALLOCATED", "WORKLOADS", "HEARTBEAT", "REASON"
    )
    now = time.time()
    for node in nodes:
        table.add_row(
            node.name,
            node_status(node),
            str(node.gpu_count),
            node.gpu_model or "-",
            f"{gpus_of_milli(node.gpu_milli_allocated)}/{node.gpu_count}",
            str(node.workloads),
            age(node.last_heartbeat_unix, now),
            node.reason,
        )
    return table


def _bar(pct: float, width: int = 10) -> Text:
    filled = round(max(0.0, min(100.0, pct)) / 100 * width)
    style = "red" if pct >= 90 else "yellow" if pct >= 60 else "green"
    text = Text("█" * filled, style=style)
    text.append("·" * (width - filled), style="dim")
    text.append(f" {pct:5.1f}%")
    return text


def gpus_table(gpus: Sequence[Gpu], *, bars: bool = False) -> Table:
    table = _table(
        "NODE",
        "GPU",
        "MODEL",
        "UTIL",
        "MEMORY (GiB)",
        "POWER (W)",
        "TEMP",
        "ALLOC",
        "HEALTH",
        "WORKLOADS",
    )
    for gpu in gpus:
        util: Text | str = _bar(gpu.utilization_pct) if bars else f"{gpu.utilization_pct:.0f}%"
        table.add_row(
            gpu.node,
            str(gpu.index),
            gpu.model,
            util,
            f"{gpu.memory_used_mib / 1024:.1f}/{gpu.memory_total_mib / 1024:.0f}",
            f"{gpu.power_w:.0f}/{gpu.power_limit_w:.0f}",
            f"{gpu.temperature_c:.0f}°C" if gpu.sample_unix else "-",
            gpus_of_milli(gpu.milli_allocated),
            gpu_health(gpu),
            ",".join(gpu.workloads) or "-",
        )
    return table


def gpu_health(gpu: Gpu) -> Text:
    """Unhealthy: <cause> (red), Throttled: <names> (yellow) or OK. The cause is the reason's
    head ("XID 79", "uncorrected ECC errors"); describe and -o json have it whole."""
    if gpu.unhealthy:
        return Text(f"Unhealthy: {gpu.health_reason.split(': ', 1)[0]}", style="red")
    if gpu.throttles:
        return Text(f"Throttled: {','.join(gpu.throttles)}", style="yellow")
    return Text("OK", style="green")


_PHASE_STYLE = {
    WorkloadPhase.PLACED: "green",
    WorkloadPhase.RUNNING: "green",
    WorkloadPhase.PENDING: "yellow",
    WorkloadPhase.UNSCHEDULABLE: "red",
    WorkloadPhase.PREEMPTED: "magenta",
    WorkloadPhase.FAILED: "red",
}


def placement_text(workload: Workload) -> str:
    if not workload.node:
        return "-"
    gpus = ",".join(str(i) for i in workload.gpus)
    # CPU-only work (no GPU requested) is allowed; say so rather than print an empty list.
    return f"{workload.node}[{gpus}]" if gpus else f"{workload.node} (CPU only)"


def gpu_share(workload: Workload) -> tuple[int, int]:
    """(GPUs, milli-GPU of a share, 0 when whole GPUs): what it holds once placed, else
    what it asks for."""
    milli = workload.milli_gpu or workload.spec.resources.milli_gpu
    gpus = len(workload.gpus) or workload.spec.resources.gpus
    return gpus, milli if 0 < milli < 1000 else 0


def share_text(workload: Workload) -> str:
    gpus, milli = gpu_share(workload)
    if gpus == 0:
        return "-"
    return f"{milli}m" if milli else f"{gpus}"


def latency_text(workload: Workload) -> str:
    target = workload.spec.slo.p99_latency_ms
    seen = f"{workload.p99_latency_ms:.1f}" if workload.p99_latency_ms else "-"
    return f"{seen}/{target:g}" if target else seen


# Columns of one short word, never broken ("runni/ng"); at 80 columns the others (PRIORITY,
# PLACEMENT, P99/SLO, MESSAGE) wrap at their spaces instead.
_UNBROKEN_COLUMNS = frozenset({"NAMESPACE", "NAME", "PHASE", "GPU", "VARIANT", "AGE"})


def workloads_table(workloads: Sequence[Workload], *, namespaces: bool) -> Table:
    now = time.time()
    rows: list[dict[str, RenderableType]] = []
    for w in workloads:
        cls = w.spec.priority_class
        row: dict[str, RenderableType] = {
            "NAMESPACE": w.namespace,
            "NAME": w.name,
            "PRIORITY": f"{w.priority} ({cls})" if cls else str(w.priority),
            "PHASE": Text(str(w.phase), style=_PHASE_STYLE.get(w.phase, "")),
            "PLACEMENT": placement_text(w),
            "GPU": share_text(w),
            "VARIANT": w.variant or "-",
            "P99/SLO (ms)": latency_text(w),
            "AGE": age(w.created_unix, now),
            "MESSAGE": w.message,
        }
        rows.append(row)
    columns = ["NAME", "PRIORITY", "PHASE", "PLACEMENT", "GPU", "VARIANT", "P99/SLO (ms)", "AGE"]
    if namespaces:
        columns.insert(0, "NAMESPACE")
    # A column that says "-" on every row only takes width from MESSAGE (-o json keeps all).
    columns = [
        c for c in columns if c not in ("VARIANT", "P99/SLO (ms)") or any(r[c] != "-" for r in rows)
    ]
    columns.append("MESSAGE")
    # Two spaces between columns, not three: ten columns need the room at 80.
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        header_style="bold",
        padding=(0, 1, 0, 0),
    )
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in _UNBROKEN_COLUMNS)
    for row in rows:
        table.add_row(*(row[c] for c in columns))
    return table


def events_table(events: Iterable[Event], *, objects: bool = True) -> Table:
    """`objects=False` under one object's own view (describe, explain): the column would
    repeat its name on every row and take a third of 80 columns from MESSAGE."""
    table = _table("AGE", "KIND", *(["OBJECT"] if objects else []), "MESSAGE")
    now = time.time()
    for event in events:
        cells = [event.object] if objects else []
        table.add_row(age(event.time_unix, now), event.kind, *cells, event.message)
    return table


def _fields(pairs: Iterable[tuple[str, Any]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in pairs:
        grid.add_row(key, value if isinstance(value, Text) else str(value))
    return grid


def describe_view(description: Description) -> RenderableType:
    parts: list[RenderableType] = []
    if description.node is not None:
        node = description.node
        info = node.info
        parts.append(
            _fields(
                [
                    ("Node:", node.name),
                    ("Status:", node_status(node)),
                    ("Reason:", node.reason or "-"),
                    ("Address:", info.address or "-"),
                    ("GPUs:", f"{node.gpu_count} × {node.gpu_model or '?'}"),
                    ("Allocated:", f"{gpus_of_milli(node.gpu_milli_allocated)} GPUs"),
                    ("GPU health:", node_health(node)),
                    ("CPU / memory:", f"{info.cpu_milli / 1000:g} cores / {info.memory_mib} MiB"),
                    ("GPU backend:", f"{info.gpu_backend.kind} ({info.gpu_backend.status})"),
                    ("Capabilities:", ", ".join(info.capabilities) or "-"),
                    ("Agent:", info.agent_version or "-"),
                    ("Registered:", f"{age(node.registered_unix)} ago"),
                    ("Heartbeat:", f"{age(node.last_heartbeat_unix)} ago"),
                ]
            )
        )
    if description.workload is not None:
        parts.append(workload_fields(description.workload))
    if description.gpus:
        parts.extend([Text("\nGPUs", style="bold"), gpus_table(description.gpus)])
    if description.events:
        events = events_table(description.events, objects=False)
        parts.extend([Text("\nEvents", style="bold"), events])
    return Group(*parts)


def workload_fields(w: Workload) -> RenderableType:
    spec = w.spec
    res = spec.resources
    slo = spec.slo
    wants = f"{res.gpus} GPU" + (f" × {res.milli_gpu}m" if 0 < res.milli_gpu < 1000 else "")
    if res.gpu_memory_mib:
        wants += f", {res.gpu_memory_mib} MiB each"
    if res.gpu_models:
        wants += f", models {'/'.join(res.gpu_models)}"
    slo_parts = [
        f"p99 ≤ {slo.p99_latency_ms:g} ms" if slo.p99_latency_ms else "",
        f"throughput ≥ {slo.throughput_target:g}/s" if slo.throughput_target else "",
        f"deadline in {max(0.0, slo.deadline_unix - time.time()):.0f}s"
        if slo.deadline_unix
        else "",
    ]
    return _fields(
        [
            ("Workload:", w.key),
            ("Phase:", Text(str(w.phase), style=_PHASE_STYLE.get(w.phase, ""))),
            ("Message:", w.message or "-"),
            (
                "Priority:",
                f"{w.priority}" + (f" ({spec.priority_class})" if spec.priority_class else ""),
            ),
            ("Resources:", wants),
            ("SLO:", ", ".join(p for p in slo_parts if p) or "-"),
            ("Variants:", ", ".join(v.name for v in spec.variants) or "-"),
            ("Active variant:", w.variant or "-"),
            ("Placement:", placement_text(w)),
            ("Observed p99:", f"{w.p99_latency_ms:.1f} ms" if w.p99_latency_ms else "-"),
            # "unknown (…)" when the app stopped reporting: neither meeting nor breaking.
            ("SLO status:", w.slo_status or "-"),
            ("Energy:", f"{w.energy_j / 3600:.2f} Wh" if w.energy_j else "-"),
            ("Generation:", w.generation),
            ("Created:", f"{age(w.created_unix)} ago"),
        ]
    )


def explanation_json(explanation: Explanation) -> str:
    """`explain -o json`: for a service, `service` holds its numbers and `workload` is null
    (not an empty workload's zeros)."""
    data = dataclasses.asdict(explanation)
    if explanation.service is not None:
        data["workload"] = None
    return json.dumps(data, indent=2)


def explain_view(explanation: Explanation) -> RenderableType:
    if explanation.service is not None or not explanation.workload.name:
        # A service (the controller sends no workload): its summary and events, not an empty
        # workload's fields and "0/0 nodes feasible".
        parts: list[RenderableType] = [Text(explanation.summary, style="bold")]
        if explanation.service is not None:
            parts.append(Text(f"SLO targets: {targets_text(explanation.service.targets)}"))
    else:
        parts = [
            workload_fields(explanation.workload),
            Text(f"\n{explanation.summary}", style="bold"),
            Text(f"{explanation.nodes_feasible}/{explanation.nodes_total} nodes feasible"),
        ]
    if explanation.rejections:
        table = _table("REJECTED BECAUSE", "NODES")
        for reason, count in sorted(explanation.rejections.items(), key=lambda kv: -kv[1]):
            table.add_row(reason, str(count))
        parts.append(table)
    if explanation.candidates:
        table = _table("CANDIDATE", "SCORE", "GPUS")
        for candidate in explanation.candidates:
            gpus = ",".join(str(i) for i in candidate.gpus) or "-"
            table.add_row(candidate.node, f"{candidate.score:.3f}", gpus)
        parts.append(table)
    if explanation.events:
        events = events_table(explanation.events, objects=False)
        parts.extend([Text("\nEvents", style="bold"), events])
    return Group(*parts)
