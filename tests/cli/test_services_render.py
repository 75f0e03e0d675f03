"""Services as `aiwo services` / `aiwo describe service` show them: 80 columns, and the JSON
object scripts read (keys documented in docs/cli.md)."""

from __future__ import annotations

import io
import time

from rich.console import Console

from sdk import (
    LaunchSpec,
    Replica,
    ReplicaState,
    ScaleRecord,
    Service,
    ServiceSpec,
    SloHints,
    WorkloadSpec,
)
from sdk.cli import _services_render as render

NOW = time.time()


def chat(**changes: object) -> Service:
    spec = ServiceSpec(
        min_replicas=1, max_replicas=4, health_path="/healthz",
        template=WorkloadSpec(
            slo=SloHints(ttft_ms=500, tpot_ms=50),
            launch=LaunchSpec(command=("python", "-m", "sdk.examples.llm_server"), serve=True),
        ),
    )  # fmt: skip
    replicas = (
        Replica("chat-0", 0, "node-1", "10.0.0.1:40001", ReplicaState.READY, NOW - 300),
        Replica("chat-1", 1, "node-2", "10.0.0.2:40002", ReplicaState.READY, NOW - 90),
        Replica("chat-2", 2, "node-3", "10.0.0.3:40003", ReplicaState.STARTING, NOW - 4),
        Replica("chat-3", 3, "node-4", "", ReplicaState.CRASH_LOOP, NOW - 2, restarts=3,
                message="crash loop: exited with code 1, next try in 8.0 s"),
    )  # fmt: skip
    fields: dict[str, object] = dict(
        name="chat", namespace="shop", spec=spec, desired=4, ready=2, replicas=replicas,
        last_scale=ScaleRecord(NOW - 42, 2, 4, "scale shop/chat 2 → 4: 9.8 req/s"),
        created_unix=NOW - 600, replicas_failed=1,
    )  # fmt: skip
    fields.update(changes)
    return Service(**fields)  # type: ignore[arg-type]


def rendered(renderable: object) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(renderable)
    return out.getvalue().splitlines()


def test_describe_json_has_the_documented_keys() -> None:
    data = render.service_json(chat())
    assert (data["replicas"], data["desired"], data["min"], data["max"]) == (2, 4, 1, 4)
    assert data["endpoints"] == ["10.0.0.1:40001", "10.0.0.2:40002"]
    assert data["last_scale"]["from"] == 2 and data["last_scale"]["to"] == 4
    assert set(data["last_scale"]) == {"time", "from", "to", "reason"}
    assert (data["crash_loop"], data["failed"], data["pinned"]) == (1, 1, None)
    states = [(r["workload"], r["state"]) for r in data["replica_list"]]
    assert states == [("chat-0", "ready"), ("chat-1", "ready"), ("chat-2", "starting"),
                      ("chat-3", "crash_loop")]  # fmt: skip
    assert data["slo"]["ttft_ms"] == 500


def test_a_service_never_scaled_has_no_last_scale() -> None:
    data = render.service_json(chat(last_scale=None, pinned=2))
    assert data["last_scale"] is None and data["pinned"] == 2
    assert render.scaling_text(chat(pinned=2)) == "pinned 2"


def test_tables_fit_80_columns_one_row_per_line() -> None:
    listing = rendered(render.services_table([chat(), chat(name="embed")], namespaces=True))
    assert all(len(line) <= 80 for line in listing)
    assert len(listing) == 4  # header, rule, two rows: nothing wraps
    assert "2→4 42s ago" in listing[2]
    view = rendered(render.service_view(chat()))
    assert all(len(line) <= 80 for line in view)
    assert any("Endpoints" in line and "10.0.0.1:40001" in line for line in view)
    rows = [line for line in view if line.startswith("chat-")]
    assert [row.split()[0] for row in rows] == ["chat-0", "chat-1", "chat-2", "chat-3"]
