"""Server reflection, as grpc.reflection.v1 and v1alpha both.

grpcio-reflection (1.85) implements only v1alpha; current clients (grpcurl, Postman,
grpcui, buf curl) ask for v1 first. The two protocols are the same messages under another
package name, so one servicer answers both: the v1 method is registered with the v1alpha
message types (byte-identical on the wire), and a v1 copy of the reflection descriptor is
added to the pool so that v1 itself can be described.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
V1_FILE = "grpc/reflection/v1/reflection.proto"


def _add_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    try:
        pool.FindFileByName(V1_FILE)
        return  # added by an earlier controller in this process (tests start several)
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = V1_FILE
    proto.package = "grpc.reflection.v1"
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(".grpc.reflection.v1alpha."):
                field.type_name = field.type_name.replace(".v1alpha.", ".v1.", 1)
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(".v1alpha.", ".v1.", 1)
            method.output_type = method.output_type.replace(".v1alpha.", ".v1.", 1)
    proto.options.Clear()
    pool.Add(proto)


class _Servicer(reflection.aio.ReflectionServicer):  # type: ignore[misc]
    """Also finds the file of a method ("aiwo.v1.AdminService.ListNodes"): the descriptor
    pool resolves messages, enums and services by name but not methods, so `grpcurl
    describe` of a method answered "not found"."""

    def _file_containing_symbol(
        self, request: reflection_pb2.ServerReflectionRequest, fully_qualified_name: str
    ) -> reflection_pb2.ServerReflectionResponse:
        reply = super()._file_containing_symbol(request, fully_qualified_name)
        service, _, method = fully_qualified_name.rpartition(".")
        if not reply.HasField("error_response") or not service:
            return reply
        try:
            found = self._pool.FindServiceByName(service)
        except KeyError:
            return reply
        if method not in found.methods_by_name:
            return reply
        return super()._file_containing_symbol(request, service)


def enable(service_names: Iterable[str], server: grpc.aio.Server) -> None:
    """Reflection v1alpha and v1 on `server`, listing `service_names` and both of its own."""
    pool = descriptor_pool.Default()
    _add_v1_descriptor(pool)
    names = (*service_names, reflection.SERVICE_NAME, V1_SERVICE_NAME)
    servicer = _Servicer(names, pool=pool)
    handlers = [
        grpc.method_handlers_generic_handler(
            service,
            {
                "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                    servicer.ServerReflectionInfo,
                    request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                    response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
                )
            },
        )
        for service in (reflection.SERVICE_NAME, V1_SERVICE_NAME)
    ]
    server.add_generic_rpc_handlers(handlers)
