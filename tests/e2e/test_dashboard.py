"""The Grafana dashboard against a real Prometheus scraping a real local cluster.

Every query of deploy/grafana/aiwo.json must return data through Prometheus' HTTP API, so a
renamed metric breaks this test and not a user's dashboard. Prometheus is Debian's package
(`make test` installs it where it can); without it the test skips and says so.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk import SyncAdminClient
from sdk.cli.local_cluster import LocalCluster, free_port
from tests.e2e.cluster_helpers import cli
from tests.e2e.serving_helpers import LLM_SERVER, request, service_url, serving_cluster

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "aiwo.json"
PROMETHEUS = shutil.which("prometheus")

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus is not installed (Debian package 'prometheus'; make test installs it "
    "when it runs as root with apt-get)",
)


def dashboard_queries() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [(p["title"], t["expr"]) for p in panels for t in p.get("targets", [])]


def test_the_dashboard_and_scrape_config_are_well_formed() -> None:
    queries = dashboard_queries()
    assert len(queries) >= 20
    assert all(expr.strip() for _, expr in queries)
    assert "aiwo-controller" in (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[LocalCluster, str]]:
    with serving_cluster(tmp_path / "state", nodes=1) as cluster:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        targets = {
            "aiwo-controller": cluster.metrics_address,
            "aiwo-gateway": f"127.0.0.1:{cluster.ports['gateway_metrics']}",
        }
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n"
            + "".join(
                f"  - job_name: {job}\n    static_configs: [{{targets: ['{address}']}}]\n"
                for job, address in targets.items()
            )
        )
        assert PROMETHEUS is not None
        process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("wb"),
        )  # fmt: skip
        try:
            yield cluster, f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=15)


def query(base: str, expr: str) -> list[dict[str, object]]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            body = json.loads(reply.read())
    except OSError:
        return []  # not up yet
    assert body["status"] == "success", body
    result: list[dict[str, object]] = body["data"]["result"]
    return result


def has_data(result: list[dict[str, object]]) -> bool:
    values = [float(str(r["value"][1])) for r in result]  # type: ignore[index]
    return any(not math.isnan(v) for v in values)


def test_every_dashboard_query_returns_data(
    prometheus: tuple[LocalCluster, str], tmp_path: Path
) -> None:
    cluster, base = prometheus
    # Something for every panel: a service behind the gateway with traffic, and a workload
    # that reports latencies against an SLO.
    cli(cluster, "serve", "chat", "--replicas", "1-1", "--milli-gpu", "250", "--", *LLM_SERVER)
    app = subprocess.Popen(
        [sys.executable, "-m", "sdk.examples.inference_service",
         "--controller", cluster.controller_address, "--duration", "120"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "app.log").open("wb"),
    )  # fmt: skip
    try:
        missing = dashboard_queries()
        deadline = time.monotonic() + 90
        beat = 0
        while missing and time.monotonic() < deadline:
            # Traffic while Prometheus watches: rates need observations between two scrapes.
            request(service_url(cluster, "chat"), {"prompt_tokens": 16, "max_tokens": 4}, 10)
            with SyncAdminClient.connect(cluster.controller_address) as admin:
                admin.list_nodes()  # unary RPCs for the RPC panel
            beat += 1
            cli(
                cluster, "register", f"beat-{beat}", "--gpus", "1", "--milli-gpu", "100"
            )  # placement
            cli(cluster, "deregister", f"beat-{beat}")
            missing = [(title, expr) for title, expr in missing if not has_data(query(base, expr))]
            time.sleep(1)
        assert missing == [], f"dashboard queries without data: {missing}"
    finally:
        app.terminate()
        app.wait(timeout=15)
