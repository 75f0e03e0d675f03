"""Server reflection as grpcurl uses it: v1 (what current clients ask first) and v1alpha.

`grpcurl describe aiwo.v1.AdminService.ListNodes` asks for the file containing the symbol,
then for each file it imports by name, and builds the method from them; done here the same
way over the real controller."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection_pb2 as rpb

from controlplane.app.server import Controller

METHODS = {
    "v1": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "v1alpha": "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
}


class Reflection:
    def __init__(self, channel: grpc.aio.Channel, version: str) -> None:
        self._call = channel.stream_stream(
            METHODS[version],
            request_serializer=rpb.ServerReflectionRequest.SerializeToString,
            response_deserializer=rpb.ServerReflectionResponse.FromString,
        )()

    async def ask(self, **request: object) -> rpb.ServerReflectionResponse:
        await self._call.write(rpb.ServerReflectionRequest(**request))  # type: ignore[arg-type]
        reply = await self._call.read()
        assert not reply.HasField("error_response"), reply.error_response.error_message
        return reply

    async def pool_for(self, symbol: str) -> descriptor_pool.DescriptorPool:
        """The symbol's file and everything it imports, fetched by name as grpcurl does."""
        files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

        def take(reply: rpb.ServerReflectionResponse) -> None:
            for raw in reply.file_descriptor_response.file_descriptor_proto:
                proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
                files[proto.name] = proto

        take(await self.ask(file_containing_symbol=symbol))
        while missing := {d for f in files.values() for d in f.dependency} - set(files):
            for name in sorted(missing):
                take(await self.ask(file_by_filename=name))
        pool = descriptor_pool.DescriptorPool()
        added: set[str] = set()
        while len(added) < len(files):
            for name, proto in files.items():
                if name not in added and set(proto.dependency) <= added:
                    pool.Add(proto)
                    added.add(name)
        return pool

    def close(self) -> None:
        self._call.cancel()


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
async def test_list_and_describe_a_method(controller: Controller, version: str) -> None:
    async with grpc.aio.insecure_channel(controller.address) as channel:
        reflection = Reflection(channel, version)
        try:
            listed = await reflection.ask(list_services="")
            names = {s.name for s in listed.list_services_response.service}
            assert {
                "aiwo.v1.NodeService",
                "aiwo.v1.WorkloadService",
                "aiwo.v1.AdminService",
                "aiwo.v1.AuthService",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
                "grpc.health.v1.Health",
            } <= names

            pool = await reflection.pool_for("aiwo.v1.AdminService.ListNodes")
            method = pool.FindMethodByName("aiwo.v1.AdminService.ListNodes")
            assert method.input_type.full_name == "aiwo.v1.ListNodesRequest"
            assert method.output_type.full_name == "aiwo.v1.ListNodesResponse"
            node = pool.FindMessageTypeByName("aiwo.v1.Node")  # from the imported types.proto
            assert "last_heartbeat_unix" in node.fields_by_name

            # Every listed service can be described, reflection v1 itself included.
            for name in sorted(names):
                assert (await reflection.pool_for(name)).FindServiceByName(name).methods
        finally:
            reflection.close()
