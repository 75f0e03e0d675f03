"""`aiwo up --demo`'s autoscaled service: the example LLM-like server (replicas 1-4) behind
the gateway, and a load generator replaying an Azure LLM trace through it (`aiwo bench load`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sdk import ClientConfig, Resources, SloHints, SyncAdminClient, make_service_spec
from sdk.cli.local_cluster import LocalCluster, program

DEMO_SERVICE = "llm"
DEMO_REPLICAS = (1, 4)
# The conversation trace of the Azure LLM inference dataset (2023), where a checkout of this
# project finds the shared data: next to the repository, or next to its parent (worktrees).
_TRACE = Path("azure-llm-2023") / "AzureLLMInferenceTrace_conv.csv"
DEMO_TRACE_ENV = "AIWO_DEMO_TRACE"
# Its mean is about 5.5 requests/s (19,365 requests in 58 minutes): with each ~1 s long and
# 4 served at a time per replica, the demo's demand moves between 1 and 3 replicas.
DEMO_RATE_SCALE = 1.0
TRACE_LENGTH_S = 3480.0


def find_demo_trace(explicit: Path | None = None) -> Path | None:
    """The trace to replay: `explicit`, else $AIWO_DEMO_TRACE, else the shared data near the
    repository; None when there is none (the demo then runs without load)."""
    if explicit is not None:
        return explicit
    if os.environ.get(DEMO_TRACE_ENV):
        return Path(os.environ[DEMO_TRACE_ENV])
    repository = Path(__file__).resolve().parents[2]
    for base in (repository.parent, repository.parent.parent):
        candidate = base / "shared" / "data" / _TRACE
        if candidate.is_file():
            return candidate
    return None


def start_demo_service(
    cluster: LocalCluster,
    duration_s: float | None,
    trace: Path | None,
    config: ClientConfig | None,
    load_env: dict[str, str] | None = None,
) -> str:
    """Create the service, start the load generator; return what to tell the user."""
    spec = make_service_spec(
        [sys.executable, "-m", "sdk.examples.llm_server"],
        min_replicas=DEMO_REPLICAS[0],
        max_replicas=DEMO_REPLICAS[1],
        # A quarter of a GPU each: four replicas fit one simulated GPU's node easily.
        resources=Resources(gpus=1, milli_gpu=250),
        # Splitwise's chat SLOs are of this order (TTFT ~ 1 s, TBT ~ 100 ms) [E].
        slo=SloHints(ttft_ms=2000, tpot_ms=100),
        priority="high",
    )
    with SyncAdminClient.connect(cluster.controller_address, config=config) as admin:
        admin.create_service(DEMO_SERVICE, spec)
    url = f"http://{cluster.gateway_address}/s/default/{DEMO_SERVICE}/v1/completions"
    if trace is None:
        return (
            f"demo service default/{DEMO_SERVICE} at {url}; no trace to replay "
            f"(set {DEMO_TRACE_ENV}=CSV for a load generator)"
        )
    argv = [
        *program("aiwo", "sdk.cli.main"), "bench", "load", "--url", url, "--trace", str(trace),
        "--rate-scale", f"{DEMO_RATE_SCALE:g}",
        "--duration", f"{duration_s if duration_s is not None else TRACE_LENGTH_S:g}",
        "--stream", "-o", "json",
    ]  # fmt: skip
    cluster.start_workload("load", argv, load_env)
    return (
        f"demo service default/{DEMO_SERVICE} (replicas {DEMO_REPLICAS[0]}-{DEMO_REPLICAS[1]})"
        f" at {url}, offered {trace.name} x{DEMO_RATE_SCALE:g} (log: {cluster.log_dir})"
    )
