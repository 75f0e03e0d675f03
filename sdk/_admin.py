"""`AdminClient`: the cluster as operators and the `aiwo` CLI see it (AdminService)."""

from __future__ import annotations

from types import TracebackType

from sdk import _convert as convert
from sdk._channel import Connection, open_connection
from sdk._config import ClientConfig
from sdk._types import ClusterInfo, Description, Event, Explanation, Gpu, Node, Workload
from sdk.pb.aiwo.v1 import admin_pb2_grpc


class AdminClient:
    """An asyncio client of AdminService; create it with `await AdminClient.connect()`."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._stub = admin_pb2_grpc.AdminServiceStub(connection.channel)

    @classmethod
    async def connect(
        cls, target: str | None = None, *, config: ClientConfig | None = None
    ) -> AdminClient:
        return cls(await open_connection(target, config or ClientConfig()))

    @property
    def target(self) -> str:
        return self._connection.target

    async def list_nodes(self) -> list[Node]:
        reply = await self._connection.call(
            self._stub.ListNodes, convert.admin_request("ListNodes")
        )
        return convert.many(Node, reply.nodes)

    async def get_node(self, name: str) -> Node:
        reply = await self._connection.call(
            self._stub.GetNode, convert.admin_request("GetNode", name=name)
        )
        return convert.from_pb(Node, reply)

    async def list_gpus(self, node: str | None = None) -> list[Gpu]:
        """Every GPU with its latest telemetry; only `node`'s when given."""
        reply = await self._connection.call(
            self._stub.ListGpus, convert.admin_request("ListGpus", node=node or "")
        )
        return convert.many(Gpu, reply.gpus)

    async def list_workloads(self, namespace: str | None = None) -> list[Workload]:
        """Workloads of `namespace`; of every namespace when None."""
        reply = await self._connection.call(
            self._stub.ListWorkloads,
            convert.admin_request("ListWorkloads", namespace=namespace or ""),
        )
        return convert.many(Workload, reply.workloads)

    async def list_events(self, object: str = "", limit: int = 0) -> list[Event]:
        """Newest first. `object` is a prefix such as "workload/default/web" or "node/";
        `limit` 0 lets the controller choose."""
        reply = await self._connection.call(
            self._stub.ListEvents, convert.admin_request("ListEvents", object=object, limit=limit)
        )
        return convert.many(Event, reply.events)

    async def cordon(self, name: str, reason: str = "") -> Node:
        reply = await self._connection.call(
            self._stub.Cordon, convert.admin_request("Cordon", name=name, reason=reason)
        )
        return convert.from_pb(Node, reply)

    async def uncordon(self, name: str) -> Node:
        reply = await self._connection.call(
            self._stub.Uncordon, convert.admin_request("Uncordon", name=name)
        )
        return convert.from_pb(Node, reply)

    async def describe_node(self, name: str) -> Description:
        return await self._describe("node", name, "")

    async def describe_workload(self, name: str, namespace: str | None = None) -> Description:
        namespace = namespace or self._connection.config.namespace
        return await self._describe("workload", name, namespace)

    async def _describe(self, kind: str, name: str, namespace: str) -> Description:
        reply = await self._connection.call(
            self._stub.Describe,
            convert.admin_request("Describe", kind=kind, name=name, namespace=namespace),
        )
        return convert.from_pb(Description, reply)

    async def explain(self, name: str, namespace: str | None = None) -> Explanation:
        """Why the workload is placed where it is, or why it is not placed."""
        reply = await self._connection.call(
            self._stub.Explain,
            convert.admin_request(
                "Explain", name=name, namespace=namespace or self._connection.config.namespace
            ),
        )
        return convert.from_pb(Explanation, reply)

    async def cluster_info(self) -> ClusterInfo:
        reply = await self._connection.call(
            self._stub.ClusterInfo, convert.admin_request("ClusterInfo")
        )
        return convert.from_pb(ClusterInfo, reply)

    async def close(self) -> None:
        await self._connection.close()

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
