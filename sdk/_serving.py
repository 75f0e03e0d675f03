"""Services: workloads with replicas that grow and shrink with their demand (ServingService).

    spec = make_service_spec(["python", "-m", "my.server"], min_replicas=1, max_replicas=4,
                             resources=Resources(gpus=1), slo=SloHints(ttft_ms=500))
    service = await admin.create_service("chat", spec)

Each replica gets AIWO_PORT (a free port on its node, which it must listen on) and
AIWO_REPLICA (its index); it is ready once GET health_path answers 200. The value types here
mirror the serving.proto messages field by field, like those of `_types`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sdk._client import make_spec
from sdk._types import (
    LaunchSpec,
    ModelVariant,
    Resources,
    RestartPolicy,
    SloHints,
    WorkloadSpec,
    _Frozen,
)

DEFAULT_HEALTH_PATH = "/healthz"


class ReplicaState(enum.StrEnum):
    UNSPECIFIED = "unspecified"
    PENDING = "pending"  # waiting for a placement
    STARTING = "starting"  # launched, not yet answering its health path
    READY = "ready"  # in the gateway's endpoints
    DRAINING = "draining"  # out of the endpoints; stopped once its requests are done
    CRASH_LOOP = "crash_loop"  # exited soon after start; restarted after a backoff
    FAILED = "failed"  # not ready within the load timeout; being replaced


@dataclass(frozen=True)
class ServiceSpec:
    """What a service is: its replica bounds and what each replica runs.

    `min_replicas` 0 lets it scale to zero when idle. `template` is each replica's
    resources, priority, SLO hints and launch spec. `load_timeout_s` 0: 600 s;
    `drain_grace_s` 0: 30 s (the controller's defaults)."""

    min_replicas: int = 0
    max_replicas: int = 0
    template: WorkloadSpec = field(default_factory=WorkloadSpec)
    health_path: str = ""
    load_timeout_s: float = 0.0
    drain_grace_s: float = 0.0


@dataclass(frozen=True)
class ScaleRecord:
    """One change of the replica count, with the numbers behind it."""

    time_unix: float = 0.0
    from_replicas: int = 0
    to_replicas: int = 0
    reason: str = ""


@dataclass(frozen=True)
class Replica:
    workload: str = ""  # the replica's workload name: "{service}-{index}"
    index: int = 0  # AIWO_REPLICA
    node: str = ""
    endpoint: str = ""  # host:port once launched
    state: ReplicaState = ReplicaState.UNSPECIFIED
    state_since_unix: float = 0.0
    restarts: int = 0
    message: str = ""  # e.g. "crash loop: exited with code 1, next try in 20 s"


@dataclass(frozen=True)
class ServiceDemand:
    """What the gateways measured lately (the last ~10 s); zeros when nothing reported."""

    window_s: float = 0.0
    arrivals_per_s: float = 0.0
    in_flight: int = 0
    queued: int = 0  # held by the gateways: no ready replica yet
    ttft_p99_ms: float = 0.0
    chunk_gap_p99_ms: float = 0.0  # a TPOT proxy
    latency_p99_ms: float = 0.0
    errors_per_s: float = 0.0


@dataclass(frozen=True)
class Service(_Frozen):
    """A service as the controller reports it."""

    name: str
    namespace: str = "default"
    spec: ServiceSpec = field(default_factory=ServiceSpec)
    desired: int = 0  # what the autoscaler (or a pin) wants now
    ready: int = 0
    pinned: int | None = None  # set by `scale_service(replicas=N)`; None: autoscaled
    replicas: Sequence[Replica] = ()
    last_scale: ScaleRecord | None = None  # None: never scaled
    message: str = ""  # what blocks scaling, if anything
    created_unix: float = 0.0
    generation: int = 0
    replicas_failed: int = 0  # replaced because not ready in time, since creation
    deleting: bool = False  # being deleted: every replica drains, then the record goes
    # Replacing replicas that ended for good backs off: the next waits until then; the
    # streak counts such failures since a replica was last ready.
    replace_after_unix: float = 0.0
    failure_streak: int = 0
    demand: ServiceDemand = field(default_factory=ServiceDemand)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def endpoints(self) -> list[str]:
        """host:port of the ready replicas (where the gateway sends requests)."""
        return [r.endpoint for r in self.replicas if r.state == ReplicaState.READY and r.endpoint]

    @property
    def crash_looping(self) -> int:
        return sum(r.state == ReplicaState.CRASH_LOOP for r in self.replicas)


def make_service_spec(
    command: Sequence[str],
    *,
    min_replicas: int = 1,
    max_replicas: int = 1,
    env: Mapping[str, str] | None = None,
    working_dir: str = "",
    priority: str | int | None = None,
    resources: Resources | None = None,
    slo: SloHints | None = None,
    variants: Iterable[ModelVariant] = (),
    labels: Mapping[str, str] | None = None,
    health_path: str = DEFAULT_HEALTH_PATH,
    load_timeout_s: float = 0.0,
    drain_grace_s: float = 0.0,
) -> ServiceSpec:
    """A `ServiceSpec` whose replicas run `command` (an argv). The controller validates it
    (InvalidArgument naming the field: min > max, max over its limit, bad targets, no
    command); only the priority is resolved here, by `make_spec`."""
    launch = LaunchSpec(
        command=tuple(command),
        env=dict(env or {}),
        working_dir=working_dir,
        # Any exit of a replica is a crash; the agent restarts it with backoff either way.
        restart_policy=RestartPolicy.ON_FAILURE,
        serve=True,
        health_path=health_path,
    )
    template = make_spec(
        priority=priority,
        slo=slo,
        resources=resources,
        variants=variants,
        launch=launch,
        labels=labels,
    )
    return ServiceSpec(
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        template=template,
        health_path=health_path,
        load_timeout_s=load_timeout_s,
        drain_grace_s=drain_grace_s,
    )
