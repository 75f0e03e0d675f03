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
    ServiceDemand,
    ServiceSpec,
    SloHints,
    WorkloadSpec,
)
from sdk.cli import _services_render as render


def chat(**changes: object) -> Service:
    now = time.time()  # per call: ages are rendered against the clock when printed
    spec = ServiceSpec(
        min_replicas=1, max_replicas=4, health_path="/healthz",
        template=WorkloadSpec(
            slo=SloHints(ttft_ms=500, tpot_ms=50),
            launch=LaunchSpec(command=("python", "-m", "sdk.examples.llm_server"), serve=True),
        ),
    )  # fmt: skip
    replicas = (
        Replica("chat-0", 0, "node-1", "10.0.0.1:40001", ReplicaState.READY, now - 300),
        Replica("chat-1", 1, "node-2", "10.0.0.2:40002", ReplicaState.READY, now - 90),
        Replica("chat-2", 2, "node-3", "10.0.0.3:40003", ReplicaState.STARTING, now - 4),
        Replica("chat-3", 3, "node-4", "", ReplicaState.CRASH_LOOP, now - 2, restarts=3,
                message="crash loop: exited with code 1, next try in 8.0 s"),
    )  # fmt: skip
    fields: dict[str, object] = dict(
        name="chat", namespace="shop", spec=spec, desired=4, ready=2, replicas=replicas,
        last_scale=ScaleRecord(now - 42, 2, 4, "scale shop/chat 2 → 4: 9.8 req/s"),
        created_unix=now - 600, replicas_failed=1,
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


def test_a_service_being_deleted_says_so_instead_of_its_pin() -> None:
    # `aiwo deregister` left it draining: "pinned 2" or "auto" would read as still scaled.
    gone = chat(pinned=2, deleting=True, desired=0)
    assert render.scaling_text(gone) == "deleting"
    assert render.service_json(gone)["deleting"] is True
    assert "deleting" in rendered(render.services_table([gone], namespaces=False))[2]
    assert render.service_json(chat())["deleting"] is False


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


def test_top_shows_replicas_demand_and_slo_in_80_columns() -> None:
    busy = chat(demand=ServiceDemand(window_s=10, arrivals_per_s=9.8, in_flight=7,
                                     ttft_p99_ms=2500, chunk_gap_p99_ms=40))  # fmt: skip
    lines = rendered(render.top_table([busy, chat(name="idle")]))
    assert all(len(line) <= 80 for line in lines) and len(lines) == 4
    assert lines[2].split()[:7] == ["shop/chat", "2/4", "1-4", "9.8", "7", "0", "2500/500"]
    assert "-/500" in lines[3]  # a target with nothing measured yet
    view = "\n".join(rendered(render.service_view(busy)))
    assert "9.8 req/s, 7 in flight" in view
    assert render.service_json(busy)["demand"]["arrivals_per_s"] == 9.8


def test_describe_shows_no_latency_where_nothing_was_measured() -> None:
    # Before: "p99 TTFT 0 ms, gap 0 ms" for a service no request had reached yet.
    quiet = chat(demand=ServiceDemand(window_s=10))
    view = "\n".join(rendered(render.service_view(quiet)))
    assert "0.0 req/s, 0 in flight, 0 held; p99 TTFT -, gap - (last 10 s)" in view
    busy = chat(demand=ServiceDemand(window_s=10, arrivals_per_s=2, ttft_p99_ms=31.6,
                                     chunk_gap_p99_ms=7))  # fmt: skip
    assert "p99 TTFT 32 ms, gap 7 ms" in "\n".join(rendered(render.service_view(busy)))


def test_names_stay_whole_in_80_columns_other_cells_wrap_first() -> None:
    # Before: `aiwo services -A` cut "team-research" into "team-researc" / "h" while
    # "2→4 42s ago" sat whole beside it.
    listing = rendered(
        render.services_table(
            [chat(namespace="team-research", name="summarizer", pinned=12), chat()],
            namespaces=True,
        )
    )
    assert all(len(line) <= 80 for line in listing)
    rows = [line.split() for line in listing if line.startswith(("team-research", "shop"))]
    assert [row[:2] for row in rows] == [["team-research", "summarizer"], ["shop", "chat"]]
    assert "12" in "".join(listing) and "ago" in "".join(listing)  # wrapped, not lost
