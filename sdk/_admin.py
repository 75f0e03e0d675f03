"""`AdminClient`: the cluster as operators and the `aiwo` CLI see it (AdminService)."""

from __future__ import annotations

from collections.abc import Sequence

from sdk import _convert as convert
from sdk._channel import Connection, ConnectionClient
from sdk._migration import DrainResult, Migration, WorkloadLogs
from sdk._serving import Service, ServiceSpec
from sdk._types import ClusterInfo, Description, Event, Explanation, Gpu, Node, Workload
from sdk.pb.aiwo.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    migration_pb2,
    serving_pb2,
    serving_pb2_grpc,
    types_pb2,
)


class AdminClient(ConnectionClient):
    """An asyncio client of AdminService; create it with `await AdminClient.connect()`."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._stub = admin_pb2_grpc.AdminServiceStub(connection.channel)
        self._serving = serving_pb2_grpc.ServingServiceStub(connection.channel)

    async def list_nodes(self) -> list[Node]:
        reply: admin_pb2.ListNodesResponse = await self._connection.call(
            self._stub.ListNodes, admin_pb2.ListNodesRequest()
        )
        return convert.many(Node, reply.nodes)

    async def get_node(self, name: str) -> Node:
        request = admin_pb2.GetNodeRequest(name=name)
        reply: types_pb2.Node = await self._connection.call(self._stub.GetNode, request)
        return convert.from_pb(Node, reply)

    async def list_gpus(self, node: str | None = None) -> list[Gpu]:
        """Every GPU with its latest telemetry; only `node`'s when given."""
        reply: admin_pb2.ListGpusResponse = await self._connection.call(
            self._stub.ListGpus, admin_pb2.ListGpusRequest(node=node or "")
        )
        return convert.many(Gpu, reply.gpus)

    async def list_workloads(
        self, namespace: str | None = None, *, page_size: int = 500
    ) -> list[Workload]:
        """Workloads of `namespace`; of every namespace when None. Fetched a page at a time
        (`page_size` each), so a large cluster never needs one oversized reply."""
        workloads: list[Workload] = []
        token = ""
        while True:
            request = admin_pb2.ListWorkloadsRequest(
                namespace=namespace or "", page_size=page_size, page_token=token
            )
            reply: admin_pb2.ListWorkloadsResponse = await self._connection.call(
                self._stub.ListWorkloads, request
            )
            workloads.extend(convert.many(Workload, reply.workloads))
            token = reply.next_page_token
            if not token:
                return workloads

    async def list_events(self, object: str = "", limit: int = 0) -> list[Event]:
        """Newest first. `object` is a prefix such as "workload/default/web" or "node/";
        `limit` 0 lets the controller choose."""
        reply: admin_pb2.ListEventsResponse = await self._connection.call(
            self._stub.ListEvents, admin_pb2.ListEventsRequest(object=object, limit=limit)
        )
        return convert.many(Event, reply.events)

    async def cordon(self, name: str, reason: str = "") -> Node:
        request = admin_pb2.CordonRequest(name=name, reason=reason)
        reply: types_pb2.Node = await self._connection.call(self._stub.Cordon, request)
        return convert.from_pb(Node, reply)

    async def uncordon(
        self, name: str, *, clear_health: bool = False, gpus: Sequence[int] = ()
    ) -> Node:
        """Placements on `name` again. `clear_health`: after a repair, every GPU's unhealthy
        mark goes too; `gpus`: only these GPUs' marks (implies clearing)."""
        request = admin_pb2.CordonRequest(
            name=name,
            clear_unhealthy_gpus=list(gpus),
            clear_all_unhealthy=clear_health and not gpus,
        )
        reply: types_pb2.Node = await self._connection.call(self._stub.Uncordon, request)
        return convert.from_pb(Node, reply)

    async def describe_node(self, name: str) -> Description:
        return await self._describe("node", name, "")

    async def describe_workload(self, name: str, namespace: str | None = None) -> Description:
        return await self._describe("workload", name, self._namespace(namespace))

    async def _describe(self, kind: str, name: str, namespace: str) -> Description:
        reply: admin_pb2.DescribeResponse = await self._connection.call(
            self._stub.Describe,
            admin_pb2.DescribeRequest(kind=kind, name=name, namespace=namespace),
        )
        return convert.from_pb(Description, reply)

    async def explain(self, name: str, namespace: str | None = None) -> Explanation:
        """Why the workload is placed where it is, or why it is not placed."""
        reply: admin_pb2.Explanation = await self._connection.call(
            self._stub.Explain,
            admin_pb2.ExplainRequest(name=name, namespace=self._namespace(namespace)),
        )
        return convert.from_pb(Explanation, reply)

    async def cluster_info(self) -> ClusterInfo:
        reply: admin_pb2.ClusterInfoResponse = await self._connection.call(
            self._stub.ClusterInfo, admin_pb2.ClusterInfoRequest()
        )
        return convert.from_pb(ClusterInfo, reply)

    # ------------------------------------------------------------ migrations, drain, logs

    async def migrate(
        self,
        name: str,
        to: str | None = None,
        *,
        namespace: str | None = None,
        reason: str = "",
    ) -> Migration:
        """Start moving a running workload to node `to` (None: the best other node).

        Returns at once with the migration in its first phase; follow it with
        `get_migration` (docs/migration.md). Raises `NotFound` for an unknown workload or
        node, `AiwoError` (FAILED_PRECONDITION) with the reason when it cannot move."""
        reply: migration_pb2.Migration = await self._connection.call(
            self._stub.Migrate,
            admin_pb2.MigrateRequest(
                name=name,
                namespace=self._namespace(namespace),
                target_node=to or "",
                reason=reason,
            ),
        )
        return convert.from_pb(Migration, reply)

    async def get_migration(self, name: str, namespace: str | None = None) -> Migration:
        """The workload's latest migration (finished ones too)."""
        reply: migration_pb2.Migration = await self._connection.call(
            self._stub.GetMigration,
            admin_pb2.GetMigrationRequest(name=name, namespace=self._namespace(namespace)),
        )
        return convert.from_pb(Migration, reply)

    async def list_migrations(self, namespace: str | None = None) -> list[Migration]:
        """Every workload's latest migration; of every namespace when None."""
        reply: admin_pb2.ListMigrationsResponse = await self._connection.call(
            self._stub.ListMigrations,
            admin_pb2.ListMigrationsRequest(namespace=namespace or ""),
        )
        return convert.many(Migration, reply.migrations)

    async def drain(self, node: str, reason: str = "") -> DrainResult:
        """Cordon `node` and migrate every workload off it; it stays cordoned."""
        reply: admin_pb2.DrainResponse = await self._connection.call(
            self._stub.Drain, admin_pb2.DrainRequest(name=node, reason=reason)
        )
        return convert.from_pb(DrainResult, reply)

    async def logs(
        self,
        name: str,
        namespace: str | None = None,
        *,
        stderr: bool = False,
        tail_bytes: int = 0,
        node: str | None = None,
    ) -> WorkloadLogs:
        """The end of a managed workload's stdout (or stderr), read on its node (or `node`,
        e.g. where it ran before a migration); `tail_bytes` 0: 64 KiB, at most 1 MiB."""
        reply: admin_pb2.LogsResponse = await self._connection.call(
            self._stub.Logs,
            admin_pb2.LogsRequest(
                name=name,
                namespace=self._namespace(namespace),
                stderr=stderr,
                tail_bytes=tail_bytes,
                node=node or "",
            ),
        )
        return convert.logs_from_pb(reply)

    # ------------------------------------------------------------ services (ServingService)

    async def create_service(
        self, name: str, spec: ServiceSpec, *, namespace: str | None = None
    ) -> Service:
        """Create a service (build `spec` with `make_service_spec`). The same spec again
        returns the stored service; a different one for an existing name raises
        `AlreadyExists`; a bad one `InvalidArgument` naming the field, creating nothing."""
        request = serving_pb2.CreateServiceRequest(
            name=name, namespace=self._namespace(namespace), spec=convert.to_pb(spec)
        )
        reply: serving_pb2.Service = await self._connection.call(
            self._serving.CreateService, request
        )
        return convert.from_pb(Service, reply)

    async def get_service(self, name: str, namespace: str | None = None) -> Service:
        request = serving_pb2.GetServiceRequest(name=name, namespace=self._namespace(namespace))
        reply: serving_pb2.Service = await self._connection.call(self._serving.GetService, request)
        return convert.from_pb(Service, reply)

    async def list_services(self, namespace: str | None = None) -> list[Service]:
        """Services of `namespace`; of every namespace when None."""
        request = serving_pb2.ListServicesRequest(namespace=namespace or "")
        reply: serving_pb2.ListServicesResponse = await self._connection.call(
            self._serving.ListServices, request
        )
        return convert.many(Service, reply.services)

    async def scale_service(
        self,
        name: str,
        replicas: int | None = None,
        *,
        auto: bool = False,
        namespace: str | None = None,
    ) -> Service:
        """Pin the service at `replicas` (within its min..max) until `auto=True` hands the
        count back to the autoscaler. Exactly one of the two."""
        if (replicas is None) == (not auto):
            raise ValueError("scale_service: give replicas=N or auto=True, not both or neither")
        ns = self._namespace(namespace)
        # `replicas` and `auto` are a oneof: set exactly the one asked for (replicas=0 too).
        if auto:
            request = serving_pb2.ScaleServiceRequest(name=name, namespace=ns, auto=True)
        else:
            request = serving_pb2.ScaleServiceRequest(name=name, namespace=ns, replicas=replicas)
        reply: serving_pb2.Service = await self._connection.call(
            self._serving.ScaleService, request
        )
        return convert.from_pb(Service, reply)

    async def update_service(
        self,
        name: str,
        *,
        min_replicas: int | None = None,
        max_replicas: int | None = None,
        ttft_ms: float | None = None,
        tpot_ms: float | None = None,
        p99_latency_ms: float | None = None,
        expected_generation: int = 0,
        namespace: str | None = None,
    ) -> Service:
        """Change a live service's replica bounds and SLO targets (ms, 0 = none): only the
        ones given, all or none. A bad value raises `InvalidArgument` naming the field;
        desired moves into the new range at once and the autoscaler steers by the new
        targets from its next pass. `expected_generation` (nonzero): only if unchanged since."""
        request = serving_pb2.UpdateServiceRequest(
            name=name,
            namespace=self._namespace(namespace),
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            ttft_ms=ttft_ms,
            tpot_ms=tpot_ms,
            p99_latency_ms=p99_latency_ms,
            expected_generation=expected_generation,
        )
        reply: serving_pb2.Service = await self._connection.call(
            self._serving.UpdateService, request
        )
        return convert.from_pb(Service, reply)

    async def delete_service(self, name: str, namespace: str | None = None) -> None:
        """Drain every replica (out of the gateway first, then stopped once its requests
        are done) and remove the service."""
        request = serving_pb2.DeleteServiceRequest(name=name, namespace=self._namespace(namespace))
        await self._connection.call(self._serving.DeleteService, request)

    def _namespace(self, namespace: str | None) -> str:
        """A workload's or service's namespace: the one given, else the configured one."""
        return namespace or self._connection.config.namespace
