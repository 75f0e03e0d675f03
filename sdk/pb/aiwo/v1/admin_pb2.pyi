from sdk.pb.aiwo.v1 import migration_pb2 as _migration_pb2
from sdk.pb.aiwo.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListNodesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[_types_pb2.Node]
    def __init__(self, nodes: _Optional[_Iterable[_Union[_types_pb2.Node, _Mapping]]] = ...) -> None: ...

class GetNodeRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListGpusRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class ListGpusResponse(_message.Message):
    __slots__ = ("gpus",)
    GPUS_FIELD_NUMBER: _ClassVar[int]
    gpus: _containers.RepeatedCompositeFieldContainer[_types_pb2.Gpu]
    def __init__(self, gpus: _Optional[_Iterable[_Union[_types_pb2.Gpu, _Mapping]]] = ...) -> None: ...

class ListWorkloadsRequest(_message.Message):
    __slots__ = ("namespace", "page_size", "page_token")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    page_size: int
    page_token: str
    def __init__(self, namespace: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListWorkloadsResponse(_message.Message):
    __slots__ = ("workloads", "next_page_token")
    WORKLOADS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workloads: _containers.RepeatedCompositeFieldContainer[_types_pb2.Workload]
    next_page_token: str
    def __init__(self, workloads: _Optional[_Iterable[_Union[_types_pb2.Workload, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("object", "limit")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    object: str
    limit: int
    def __init__(self, object: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_types_pb2.Event]
    def __init__(self, events: _Optional[_Iterable[_Union[_types_pb2.Event, _Mapping]]] = ...) -> None: ...

class CordonRequest(_message.Message):
    __slots__ = ("name", "reason", "clear_unhealthy_gpus", "clear_all_unhealthy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CLEAR_UNHEALTHY_GPUS_FIELD_NUMBER: _ClassVar[int]
    CLEAR_ALL_UNHEALTHY_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    clear_unhealthy_gpus: _containers.RepeatedScalarFieldContainer[int]
    clear_all_unhealthy: bool
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., clear_unhealthy_gpus: _Optional[_Iterable[int]] = ..., clear_all_unhealthy: _Optional[bool] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ("kind", "name", "namespace")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    namespace: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class DescribeResponse(_message.Message):
    __slots__ = ("node", "workload", "gpus", "events")
    NODE_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    node: _types_pb2.Node
    workload: _types_pb2.Workload
    gpus: _containers.RepeatedCompositeFieldContainer[_types_pb2.Gpu]
    events: _containers.RepeatedCompositeFieldContainer[_types_pb2.Event]
    def __init__(self, node: _Optional[_Union[_types_pb2.Node, _Mapping]] = ..., workload: _Optional[_Union[_types_pb2.Workload, _Mapping]] = ..., gpus: _Optional[_Iterable[_Union[_types_pb2.Gpu, _Mapping]]] = ..., events: _Optional[_Iterable[_Union[_types_pb2.Event, _Mapping]]] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("node", "score", "gpus")
    NODE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    node: str
    score: float
    gpus: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, node: _Optional[str] = ..., score: _Optional[float] = ..., gpus: _Optional[_Iterable[int]] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("workload", "summary", "nodes_total", "nodes_feasible", "rejections", "candidates", "events", "service")
    class RejectionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    NODES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    NODES_FEASIBLE_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    workload: _types_pb2.Workload
    summary: str
    nodes_total: int
    nodes_feasible: int
    rejections: _containers.ScalarMap[str, int]
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    events: _containers.RepeatedCompositeFieldContainer[_types_pb2.Event]
    service: ServiceExplanation
    def __init__(self, workload: _Optional[_Union[_types_pb2.Workload, _Mapping]] = ..., summary: _Optional[str] = ..., nodes_total: _Optional[int] = ..., nodes_feasible: _Optional[int] = ..., rejections: _Optional[_Mapping[str, int]] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., events: _Optional[_Iterable[_Union[_types_pb2.Event, _Mapping]]] = ..., service: _Optional[_Union[ServiceExplanation, _Mapping]] = ...) -> None: ...

class ServiceExplanation(_message.Message):
    __slots__ = ("name", "namespace", "replicas", "ready", "desired", "min_replicas", "max_replicas", "pinned", "reason", "blocked", "targets", "deleting", "replicas_failed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    DESIRED_FIELD_NUMBER: _ClassVar[int]
    MIN_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    DELETING_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FAILED_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    replicas: int
    ready: int
    desired: int
    min_replicas: int
    max_replicas: int
    pinned: int
    reason: str
    blocked: str
    targets: _types_pb2.SloHints
    deleting: bool
    replicas_failed: int
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., replicas: _Optional[int] = ..., ready: _Optional[int] = ..., desired: _Optional[int] = ..., min_replicas: _Optional[int] = ..., max_replicas: _Optional[int] = ..., pinned: _Optional[int] = ..., reason: _Optional[str] = ..., blocked: _Optional[str] = ..., targets: _Optional[_Union[_types_pb2.SloHints, _Mapping]] = ..., deleting: _Optional[bool] = ..., replicas_failed: _Optional[int] = ...) -> None: ...

class ClusterInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClusterInfoResponse(_message.Message):
    __slots__ = ("controller", "version", "epoch", "leader", "started_unix", "etcd_endpoints")
    CONTROLLER_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_FIELD_NUMBER: _ClassVar[int]
    ETCD_ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    controller: str
    version: str
    epoch: int
    leader: bool
    started_unix: float
    etcd_endpoints: str
    def __init__(self, controller: _Optional[str] = ..., version: _Optional[str] = ..., epoch: _Optional[int] = ..., leader: _Optional[bool] = ..., started_unix: _Optional[float] = ..., etcd_endpoints: _Optional[str] = ...) -> None: ...

class MigrateRequest(_message.Message):
    __slots__ = ("name", "namespace", "target_node", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TARGET_NODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    target_node: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., target_node: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetMigrationRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class ListMigrationsRequest(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class ListMigrationsResponse(_message.Message):
    __slots__ = ("migrations",)
    MIGRATIONS_FIELD_NUMBER: _ClassVar[int]
    migrations: _containers.RepeatedCompositeFieldContainer[_migration_pb2.Migration]
    def __init__(self, migrations: _Optional[_Iterable[_Union[_migration_pb2.Migration, _Mapping]]] = ...) -> None: ...

class DrainRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DrainResponse(_message.Message):
    __slots__ = ("node", "migrations", "skipped")
    class SkippedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NODE_FIELD_NUMBER: _ClassVar[int]
    MIGRATIONS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    node: _types_pb2.Node
    migrations: _containers.RepeatedCompositeFieldContainer[_migration_pb2.Migration]
    skipped: _containers.ScalarMap[str, str]
    def __init__(self, node: _Optional[_Union[_types_pb2.Node, _Mapping]] = ..., migrations: _Optional[_Iterable[_Union[_migration_pb2.Migration, _Mapping]]] = ..., skipped: _Optional[_Mapping[str, str]] = ...) -> None: ...

class LogsRequest(_message.Message):
    __slots__ = ("name", "namespace", "stderr", "tail_bytes", "node")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    TAIL_BYTES_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    stderr: bool
    tail_bytes: int
    node: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., stderr: _Optional[bool] = ..., tail_bytes: _Optional[int] = ..., node: _Optional[str] = ...) -> None: ...

class LogsResponse(_message.Message):
    __slots__ = ("data", "node", "truncated", "size_bytes")
    DATA_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    node: str
    truncated: bool
    size_bytes: int
    def __init__(self, data: _Optional[bytes] = ..., node: _Optional[str] = ..., truncated: _Optional[bool] = ..., size_bytes: _Optional[int] = ...) -> None: ...
