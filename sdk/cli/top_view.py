"""What `aiwo top` draws, sized to the terminal: a pure function of the lists and the size.

Every line fits the width (cells are cut with "…", never wrapped) and the frame fits the
height: GPUs one per row when they fit, else one summary row per node, and always the
workloads, as many as there is room for, with a count of the rest. Units say what they
are: "312/700 W" is power now and its cap, "0.25 GPU" a quarter of one GPU.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from sdk import Gpu, Node, NodeState, Workload
from sdk.cli import _render as render

LEGEND = "W: now/cap (the power limit) · 0.25 GPU: a quarter of one GPU · q quits"
WIDE = 120  # from here on, the wide tables of `aiwo gpus` / `aiwo workloads`
MIN_WORKLOAD_ROWS = 4  # the workloads keep at least this many rows when GPUs compete


@dataclass(frozen=True)
class Size:
    width: int
    height: int | None  # None: not a terminal (a log): no limit, everything is shown


def summary(nodes: Sequence[Node], gpus: Sequence[Gpu], workloads: Sequence[Workload]) -> Text:
    ready = sum(n.state == NodeState.READY for n in nodes)
    allocated = sum(g.milli_allocated for g in gpus) / 1000
    power = sum(g.power_w for g in gpus)
    placed = sum(w.placement is not None for w in workloads)
    text = Text(time.strftime("%H:%M:%S "), style="dim")
    text.append(f"nodes {ready}/{len(nodes)} ready  ", style="bold")
    text.append(f"GPUs {allocated:g}/{len(gpus)} allocated  ")
    text.append(f"{power:,.0f} W  ")
    text.append(f"workloads {placed}/{len(workloads)} placed")
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


def share(workload: Workload) -> str:
    """ "0.25 GPU", "2 GPUs", "-" (CPU only)."""
    count, milli = render.gpu_share(workload)
    if count == 0:
        return "-"
    if milli:
        return f"{milli / 1000:g} GPU"
    return f"{count} GPU" + ("s" if count > 1 else "")


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    return table


def _power(power_w: float, cap_w: float) -> str:
    return f"{power_w:.0f}/{cap_w:.0f} W"


def gpu_rows(gpus: Sequence[Gpu], limit: int | None) -> Table:
    table = _table("NODE", "GPU", "UTIL", "MEM GiB", "POWER", "TEMP", "ALLOC", "WORKLOADS")
    for gpu in gpus[:limit]:
        table.add_row(
            gpu.node,
            str(gpu.index),
            render._bar(gpu.utilization_pct, width=6),
            f"{gpu.memory_used_mib / 1024:.0f}/{gpu.memory_total_mib / 1024:.0f}",
            _power(gpu.power_w, gpu.power_limit_w),
            f"{gpu.temperature_c:.0f}°C" if gpu.sample_unix else "-",
            f"{gpu.milli_allocated / 1000:g} GPU",
            ",".join(w.rpartition("/")[2] for w in gpu.workloads) or "-",
        )
    return table


def node_rows(nodes: Sequence[Node], gpus: Sequence[Gpu], limit: int | None) -> Table:
    """One row per node: its GPUs summed (power, allocation) or averaged (utilisation)."""
    table = _table("NODE", "STATUS", "GPUS", "UTIL", "POWER", "MAX TEMP", "ALLOC")
    for node in nodes[:limit]:
        own = [g for g in gpus if g.node == node.name]
        util = sum(g.utilization_pct for g in own) / len(own) if own else 0.0
        sampled = [g.temperature_c for g in own if g.sample_unix]
        table.add_row(
            node.name,
            render.node_status(node),
            f"{len(own)}× {node.gpu_model or '?'}",
            render._bar(util, width=6),
            _power(sum(g.power_w for g in own), sum(g.power_limit_w for g in own)),
            f"{max(sampled):.0f}°C" if sampled else "-",
            f"{sum(g.milli_allocated for g in own) / 1000:g}/{len(own)} GPU",
        )
    return table


def workload_rows(workloads: Sequence[Workload], limit: int | None, wide: bool) -> Table:
    columns = ["NAMESPACE/NAME", "PHASE", "PLACEMENT", "SHARE", "P99/SLO ms"]
    table = _table(*columns, *(["AGE", "MESSAGE"] if wide else []))
    now = time.time()
    for w in workloads[:limit]:
        row: list[RenderableType] = [
            w.key,
            Text(str(w.phase), style=render._PHASE_STYLE.get(w.phase, "")),
            render.placement_text(w),
            share(w),
            render.latency_text(w),
        ]
        if wide:
            row += [render.age(w.created_unix, now), w.message]
        table.add_row(*row)
    return table


def frame(
    nodes: Sequence[Node], gpus: Sequence[Gpu], workloads: Sequence[Workload], size: Size
) -> RenderableType:
    """Summary, legend, GPUs (or nodes), workloads: within `size`."""
    head: list[RenderableType] = [summary(nodes, gpus, workloads), Text(LEGEND, style="dim")]
    for line in head:
        assert isinstance(line, Text)
        line.no_wrap, line.overflow = True, "ellipsis"
    wide = size.width >= WIDE
    if size.height is None:
        return Group(*head, gpu_rows(gpus, None), workload_rows(workloads, None, wide))
    # Lines: a table is a header, a rule, its rows; one line is kept free (Live's cursor).
    room = size.height - len(head) - 1
    workload_lines = 2 + len(workloads) if workloads else 1
    keep = min(workload_lines, 2 + MIN_WORKLOAD_ROWS)
    parts: list[RenderableType] = list(head)
    if 2 + len(gpus) + keep <= room:
        parts.append(gpu_rows(gpus, None))
        room -= 2 + len(gpus)
    else:
        shown = max(0, min(len(nodes), room - keep - 2))
        parts.append(node_rows(nodes, gpus, shown))
        room -= 2 + shown
    if not workloads:
        parts.append(Text("no workloads", style="dim"))
        return Group(*parts)
    rows = room - 2
    if rows >= len(workloads):
        parts.append(workload_rows(workloads, None, wide))
    else:
        rows = max(0, rows - 1)  # one line says how many are not shown
        parts.append(workload_rows(workloads, rows, wide))
        more = Text(f"… and {len(workloads) - rows} more (aiwo workloads -A)", style="dim")
        more.no_wrap, more.overflow = True, "ellipsis"
        parts.append(more)
    return Group(*parts)
