"""Services end to end: a local cluster with the gateway, a load of real HTTP requests through
it, and what the cluster's processes show (replica copies, orphans)."""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sdk import Service, SyncAdminClient
from sdk.cli.local_cluster import ClusterSpec, LocalCluster
from tests.e2e.cluster_helpers import running_cluster
from tests.helpers import workload_processes

LLM_SERVER = [sys.executable, "-m", "sdk.examples.llm_server"]


@contextmanager
def serving_cluster(
    state: Path, *, nodes: int = 2, controllers: int = 1, agent_args: tuple[str, ...] = ()
) -> Iterator[LocalCluster]:
    spec = ClusterSpec(
        state, nodes=nodes, gpus_per_node=2, gpu_model="A100-80GB", controllers=controllers,
        controller_args=("--node-grace-s", "3", "--eviction-grace-s", "60",
                         "--leader-lease-s", "2"),
        agent_args=agent_args, default_ports=False, gateway=True,
    )  # fmt: skip
    with running_cluster(spec, registered=nodes) as cluster:
        yield cluster


def request(
    url: str, body: dict[str, Any] | None = None, timeout_s: float = 60.0
) -> tuple[int, bytes]:
    """POST `body` (JSON) to `url`: (status, body); status 0 when no HTTP answer came."""
    data = json.dumps(body or {"prompt_tokens": 64, "max_tokens": 16}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=timeout_s) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error).encode()


class Load:
    """Requests at a steady rate from a thread pool (open loop up to `workers` in flight),
    each outcome kept: the tests assert that none failed."""

    def __init__(self, url: str, rate_per_s: float, body: dict[str, Any] | None = None) -> None:
        self.url = url
        self.interval_s = 1.0 / rate_per_s
        self.body = body
        self.statuses: Counter[int] = Counter()
        self.failures: list[tuple[int, bytes]] = []
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=64)
        self._futures: list[Future[None]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _one(self) -> None:
        status, body = request(self.url, self.body)
        self.statuses[status] += 1
        if status != 200:
            self.failures.append((status, body[:200]))

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._futures.append(self._pool.submit(self._one))
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for future in self._futures:
            future.result()
        self._pool.shutdown()

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())


def service_url(cluster: LocalCluster, name: str, path: str = "v1/completions") -> str:
    return f"http://{cluster.gateway_address}/s/default/{name}/{path}"


def ready_count(admin: SyncAdminClient, name: str) -> int:
    return admin.get_service(name).ready


def settled(admin: SyncAdminClient, name: str, replicas: int) -> Service | None:
    """The service once it has exactly `replicas` replicas, all ready, nothing draining."""
    service = admin.get_service(name)
    states = [str(r.state) for r in service.replicas]
    if service.ready == replicas and states == ["ready"] * replicas:
        return service
    return None


def wait_settled(
    admin: SyncAdminClient, name: str, replicas: int, timeout_s: float, message: str = ""
) -> Service:
    from tests.e2e.cluster_helpers import wait_for

    service = wait_for(lambda: settled(admin, name, replicas), timeout_s, message)
    assert service is not None
    return service


def replica_processes(cluster: LocalCluster, service: str) -> Counter[str]:
    """Live processes of this cluster's agents by replica workload ("default/chat-0"), read
    from their environment (other clusters on this machine may run the same names)."""
    prefix = f"AIWO_WORKLOAD=default/{service}-".encode()
    found: Counter[str] = Counter()
    for process in workload_processes(cluster.state_dir):
        for variable in process.environ:
            if variable.startswith(prefix):
                found[variable.split(b"=", 1)[1].decode()] += 1
    return found


def stats(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{endpoint}/stats", timeout=5) as reply:
        return json.loads(reply.read())  # type: ignore[no-any-return]
