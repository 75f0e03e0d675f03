"""CLI output without a controller: JSON keys, table contents, helpers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rich.console import Console

from sdk import (
    Description,
    Event,
    Explanation,
    Gpu,
    Node,
    NodeState,
    Resources,
    SloHints,
    Workload,
    WorkloadPhase,
    WorkloadSpec,
)
from sdk.cli import _render as render
from sdk.cli import top_view
from sdk.pb.aiwo.v1 import types_pb2

NODE = Node(
    "node-1", state=NodeState.READY, gpu_count=8, gpu_model="H100", gpu_milli_allocated=2500
)
GPU = Gpu("node-1", 3, model="H100", memory_total_mib=81920, utilization_pct=55.0, sample_unix=1.0)
WORKLOAD = Workload(
    "web",
    spec=WorkloadSpec(
        priority_class="high",
        priority=750,
        slo=SloHints(p99_latency_ms=100),
        resources=Resources(gpus=1, milli_gpu=250),
    ),
    phase=WorkloadPhase.PLACED,
    node="node-1",
    gpus=(3,),
    milli_gpu=250,
    priority=750,
    p99_latency_ms=72.5,
)


def text_of(renderable: object) -> str:
    console = Console(width=200, record=True)
    console.print(renderable)
    return console.export_text()


def proto_fields(message: Any) -> set[str]:
    return {f.name for f in message.DESCRIPTOR.fields}


def test_json_listings_use_the_api_field_names() -> None:
    for items, message in (
        ([NODE], types_pb2.Node),
        ([GPU], types_pb2.Gpu),
        ([WORKLOAD], types_pb2.Workload),
        ([Event("e1", kind="workload_placed")], types_pb2.Event),
    ):
        data = json.loads(render.to_json(items))
        assert isinstance(data, list) and len(data) == 1
        assert set(data[0]) == proto_fields(message)


def test_json_values_are_readable() -> None:
    [node] = json.loads(render.to_json([NODE]))
    assert (node["name"], node["state"]) == ("node-1", "ready")
    [gpu] = json.loads(render.to_json([GPU]))
    assert (gpu["node"], gpu["index"], gpu["model"]) == ("node-1", 3, "H100")
    [w] = json.loads(render.to_json([WORKLOAD]))
    assert (w["name"], w["namespace"], w["phase"], w["node"], w["gpus"]) == (
        "web",
        "default",
        "placed",
        "node-1",
        [3],
    )
    assert w["spec"]["resources"]["milli_gpu"] == 250
    assert json.loads(render.to_json([])) == []


def test_tables_show_the_essentials() -> None:
    nodes = text_of(render.nodes_table([NODE]))
    assert "node-1" in nodes and "Ready" in nodes and "2.5/8" in nodes
    gpus = text_of(render.gpus_table([GPU], bars=True))
    assert "H100" in gpus and "55.0%" in gpus
    workloads = text_of(render.workloads_table([WORKLOAD], namespaces=True))
    for expected in ("default", "web", "750 (high)", "placed", "node-1[3]", "250m", "72.5/100"):
        assert expected in workloads


def test_cordoned_and_not_ready_nodes_stand_out() -> None:
    node = Node("n2", state=NodeState.NOT_READY, cordoned=True, reason="no heartbeat for 12s")
    assert "NotReady,Cordoned" in text_of(render.nodes_table([node]))


def test_describe_and_explain_views() -> None:
    text = text_of(render.describe_view(Description(node=NODE, gpus=(GPU,))))
    assert "node-1" in text and "8 × H100" in text
    explanation = Explanation(
        workload=WORKLOAD,
        summary="1/2 nodes fit: 1 insufficient GPU memory",
        nodes_total=2,
        nodes_feasible=1,
        rejections={"insufficient GPU memory": 1},
    )
    text = text_of(render.explain_view(explanation))
    assert "1/2 nodes fit" in text and "insufficient GPU memory" in text


def test_age() -> None:
    assert render.age(0) == "-"
    assert render.age(100, now=142) == "42s"
    assert render.age(0.5, now=3 * 3600 + 1) == "3h"


def test_health_is_shown_per_gpu_and_per_node() -> None:
    sick = Gpu("node-1", 2, unhealthy=True, health_reason="XID 79: GPU has fallen off the bus")
    hot = Gpu("node-1", 3, throttles=("hw_thermal", "hw_power_brake"))
    assert render.gpu_health(sick).plain == "Unhealthy: XID 79"
    assert render.gpu_health(hot).plain == "Throttled: hw_thermal,hw_power_brake"
    assert render.gpu_health(GPU).plain == "OK"
    node = Node("node-1", unhealthy_gpus={2: "XID 79: GPU has fallen off the bus"})
    assert render.node_health(node).plain == "GPU 2 unhealthy: XID 79: GPU has fallen off the bus"
    assert render.node_health(NODE).plain == "all GPUs healthy"


@pytest.mark.parametrize(
    ("workload", "short", "long"),
    [
        (WORKLOAD, "250m", "0.25 GPU"),  # placed on a share
        (Workload("cpu"), "-", "-"),  # no GPU asked for
        (Workload("wait", spec=WorkloadSpec(resources=Resources(gpus=2))), "2", "2 GPUs"),
        (Workload("one", gpus=(5,), spec=WorkloadSpec(resources=Resources(gpus=1))), "1", "1 GPU"),
        # A share of 1000 milli-GPU is one whole GPU.
        (
            Workload("full", spec=WorkloadSpec(resources=Resources(gpus=1, milli_gpu=1000))),
            "1",
            "1 GPU",
        ),
    ],
)
def test_a_workloads_gpu_share_in_the_tables_and_in_top(
    workload: Workload, short: str, long: str
) -> None:
    assert (render.share_text(workload), top_view.share(workload)) == (short, long)


def test_workloads_fit_80_columns_without_breaking_a_header_or_short_cell() -> None:
    # At COLUMNS=80 every column was squeezed: "PRIORIT / Y", "runni / ng", "(norma / l)".
    replica = Workload(
        "chat-0",
        spec=WorkloadSpec(priority_class="normal", priority=500),
        phase=WorkloadPhase.RUNNING,
        node="node-2",
        priority=500,
        message="default: best of 2 feasible nodes (score 150)",
    )
    variant = Workload("chat-1", spec=replica.spec, phase=WorkloadPhase.RUNNING, variant="int8")
    # Every column but NAMESPACE (ten with it do not fit 80 with any width left to MESSAGE),
    # and NAMESPACE without VARIANT.
    for namespaces, listed in ((False, [replica, WORKLOAD, variant]), (True, [replica, WORKLOAD])):
        console = Console(width=80, record=True, color_system=None)
        console.print(render.workloads_table(listed, namespaces=namespaces))
        lines = console.export_text().splitlines()
        assert all(len(line) <= 80 for line in lines)
        words = " ".join(lines[:3]).split()  # the header, "P99/SLO (ms)" may take two lines
        for column in ("NAME", "PRIORITY", "PHASE", "PLACEMENT", "GPU", "AGE", "MESSAGE"):
            assert column in words
        assert ("NAMESPACE" in words) == namespaces
        row = " ".join(lines).split()
        for cell in ("chat-0", "500", "(normal)", "running", "node-2", "node-1[3]", "72.5/100"):
            assert cell in row
    # A column with "-" on every row is left out of the table (json keeps every field).
    alone = text_of(render.workloads_table([replica], namespaces=False)).splitlines()[0]
    assert "VARIANT" not in alone and "P99/SLO" not in alone
    assert "P99/SLO (ms)" in text_of(render.workloads_table([WORKLOAD], namespaces=False))


def test_one_objects_view_lists_its_events_without_an_object_column() -> None:
    event = Event("e1", kind="service_scaled", object="service/default/chat",
                  message="default/chat: pinned to 3 replicas", time_unix=1.0)  # fmt: skip
    explained = text_of(render.explain_view(Explanation(WORKLOAD, "placed", events=(event,))))
    assert "OBJECT" not in explained and "service/default/chat" not in explained
    assert "default/chat: pinned to 3 replicas" in explained
    described = text_of(render.describe_view(Description(node=NODE, events=(event,))))
    assert "OBJECT" not in described
    listing = text_of(render.events_table([event]))  # `aiwo events`: many objects
    assert "OBJECT" in listing and "service/default/chat" in listing
