"""The gate in front of every servicer: authenticate, authorize, audit.

It wraps each handler (a grpc.aio interceptor sees only the method name and metadata; the
request and the peer's certificate come with the call), so the check runs on the request
itself:

1. who: a gateway's certificate (URI aiwo://gateway/NAME) on any method, whatever token
   rides with it; else a bearer token (AuthService, WorkloadService, AdminService) or,
   for NodeService, the node named by the client certificate. None → UNAUTHENTICATED.
2. may they: the method's rule (permissions.RULES) and, for namespaced calls, the token's
   namespaces; a node may speak only for itself, a gateway certificate only under its own
   name. No → PERMISSION_DENIED naming what is missing. For streams the first message
   carries the namespace or node, so the check runs when the servicer reads it.
3. audit: state-changing calls with their result, and every refusal.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NoReturn

import grpc
import structlog
from google.protobuf.message import Message

from controlplane.auth import audit
from controlplane.auth.identity import gateway_of, node_of, peer_certificate, peer_subject
from controlplane.auth.permissions import (
    AUTHENTICATED,
    NODE_IDENTITY,
    PUBLIC,
    RULES,
    Need,
    Rule,
    Scope,
    audit_object,
    denial,
    need_for,
)
from controlplane.auth.principal import (
    ANONYMOUS,
    Principal,
    current_principal,
    gateway_principal,
    node_principal,
)
from controlplane.auth.revocation import Revocations
from controlplane.auth.tokens import AuthenticationError, TokenStore
from sdk.pb.aiwo.v1 import node_pb2

log = structlog.get_logger("aiwo.auth")

Metadata = Sequence[tuple[str, str | bytes]]


def bearer_token(metadata: Metadata | None) -> str | None:
    for key, value in metadata or ():
        if key.lower() != "authorization":
            continue
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        scheme, _, token = text.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """`tokens` None: authentication is off and callers act as admins (plaintext dev
    default). `node_identity`: agents must present a certificate naming their node."""

    def __init__(
        self,
        tokens: TokenStore | None,
        node_identity: bool,
        revocations: Revocations | None = None,
    ) -> None:
        self.tokens = tokens
        self.node_identity = node_identity
        self.revocations = revocations  # the CRL: revoked certificates are refused

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        rule = RULES.get(method)
        if rule is not None and rule.permission == PUBLIC:
            return handler
        gate = _Gate(self, method, rule, handler_call_details.invocation_metadata)
        return gate.wrap(handler)


class _Gate:
    """One call's checks."""

    def __init__(
        self, owner: AuthInterceptor, method: str, rule: Rule | None, metadata: Metadata | None
    ) -> None:
        self.owner = owner
        self.method = method
        self.rule = rule
        self.metadata = metadata
        self.certificate: bytes | None = None  # the peer's (PEM), once read

    # ------------------------------------------------------------ checks

    async def admit(self, context: grpc.aio.ServicerContext) -> Principal:
        """Authenticate: who is calling."""
        await self.check_certificate(context)
        rule = self.rule
        if self.owner.node_identity:  # mutual TLS: a gateway is its certificate, always
            gateway = await self._gateway(context)
            if gateway is not None:
                return gateway
        if rule is not None and rule.permission == NODE_IDENTITY:
            if not self.owner.node_identity:
                return node_principal("")  # plaintext: nobody can be identified
            node = node_of(context)
            if node is None:
                await self.refuse(
                    context,
                    grpc.StatusCode.UNAUTHENTICATED,
                    "agents must present a client certificate naming their node "
                    "(URI aiwo://node/NAME) signed by the cluster CA",
                    node_principal(""),
                )
            return node_principal(node)
        tokens = self.owner.tokens
        if tokens is None:
            return ANONYMOUS
        token = bearer_token(self.metadata)
        if token is None:
            await self.refuse(
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                "missing bearer token (metadata authorization: Bearer <token>)",
                Principal("anonymous", "", ""),
            )
        try:
            return tokens.authenticate(token)
        except AuthenticationError as exc:
            await self.refuse(
                context, grpc.StatusCode.UNAUTHENTICATED, str(exc), Principal("anonymous", "", "")
            )

    async def _gateway(self, context: grpc.aio.ServicerContext) -> Principal | None:
        """The gateway a certificate names (role gateway on every method, so that it can
        never pass as an admin through a token, nor as a node); None if it names none."""
        gateway = gateway_of(context)
        if gateway is None:
            return None
        principal = gateway_principal(gateway)
        if node_of(context) is not None:  # which would it be? Neither.
            await self.refuse(
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                "this certificate names both a node and a gateway; issue each its own",
                principal,
            )
        return principal

    async def check_certificate(self, context: grpc.aio.ServicerContext) -> None:
        """A revoked client certificate is refused, whatever the call."""
        revocations = self.owner.revocations
        if revocations is None:
            return
        if self.certificate is None:  # read once per call: a stream rechecks every message
            self.certificate = peer_certificate(context) or b""
        reason = revocations.reason(self.certificate) if self.certificate else None
        if reason is not None:
            await self.refuse(
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                reason,
                Principal("certificate", peer_subject(context), ""),
            )

    async def recheck(self, principal: Principal, context: grpc.aio.ServicerContext) -> None:
        """On each message of an open stream: a certificate or token revoked since it
        opened ends it (a stream can live for days)."""
        await self.check_certificate(context)
        tokens = self.owner.tokens
        if tokens is None or principal.kind != "token":
            return
        token = bearer_token(self.metadata)
        try:
            tokens.authenticate(token or "")
        except AuthenticationError as exc:
            await self.refuse(context, grpc.StatusCode.UNAUTHENTICATED, str(exc), principal)

    async def authorize(
        self, principal: Principal, message: Message | None, context: grpc.aio.ServicerContext
    ) -> None:
        rule = self.rule
        if rule is None:
            if self.owner.tokens is not None:  # fail closed: no rule, no access
                await self.refuse(
                    context,
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"no access rule for {self.method}",
                    principal,
                )
            return
        if rule.permission == NODE_IDENTITY:
            await self._check_node(principal, message, context)
            return
        if principal.kind == "gateway":
            await self._check_gateway(principal, message, context)
        if rule.permission == AUTHENTICATED or principal is ANONYMOUS:
            return
        # Without a message (a stream, before its first one) only the role can be checked;
        # a namespaced stream is checked again on its first message.
        need = need_for(rule, message) if message is not None else Need(rule.permission)
        reason = denial(principal.role, principal.namespaces, need)
        if reason is not None:
            await self.refuse(
                context, grpc.StatusCode.PERMISSION_DENIED, reason, principal, message
            )

    async def _check_node(
        self, principal: Principal, message: Message | None, context: grpc.aio.ServicerContext
    ) -> None:
        if principal.role != "node":  # a gateway's certificate, on an agent's method
            await self.refuse(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"missing node identity (role {principal.role}): NodeService is for agents, "
                "with a certificate naming their node (URI aiwo://node/NAME)",
                principal,
                message,
            )
        claimed = _claimed_node(message)
        if not self.owner.node_identity or claimed is None or claimed == principal.id:
            return
        log.warning(
            "node_identity_mismatch",
            certificate_node=principal.id,
            claimed_node=claimed,
            method=self.method.rsplit("/", 1)[-1],
            peer=context.peer(),
        )
        await self.refuse(
            context,
            grpc.StatusCode.PERMISSION_DENIED,
            f"this certificate names node {principal.id!r}; it may not act for {claimed!r}",
            principal,
            message,
        )

    async def _check_gateway(
        self, principal: Principal, message: Message | None, context: grpc.aio.ServicerContext
    ) -> None:
        """A gateway certificate speaks under its own name only: drains wait for every
        gateway by name, so one gateway must not report for another."""
        claimed = getattr(message, "gateway", None) if message is not None else None
        if not claimed or claimed == principal.id:
            return
        await self.refuse(
            context,
            grpc.StatusCode.PERMISSION_DENIED,
            f"this certificate names gateway {principal.id!r}; it may not act for {claimed!r}",
            principal,
            message,
        )

    async def refuse(
        self,
        context: grpc.aio.ServicerContext,
        code: grpc.StatusCode,
        reason: str,
        principal: Principal,
        message: Message | None = None,
    ) -> NoReturn:
        audit.record(
            method=self.method,
            principal=principal.name,
            role=principal.role,
            result=code.name,
            object=audit_object(self.rule, message) if self.rule else "",
            peer=_peer(context),
            detail=reason,
        )
        await context.abort(code, reason)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ wrapping

    def wrap(self, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(self._unary(handler.unary_unary), **codec)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._adapt(handler.unary_stream, self._prepare_unary), **codec
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._adapt(handler.stream_unary, self._prepare_stream), **codec
            )
        return grpc.stream_stream_rpc_method_handler(
            self._adapt(handler.stream_stream, self._prepare_stream), **codec
        )

    def _unary(self, inner: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def guarded(request: Message, context: grpc.aio.ServicerContext) -> Any:
            principal = await self.admit(context)
            await self.authorize(principal, request, context)
            token = current_principal.set(principal)
            try:
                reply = await inner(request, context)
            except BaseException:
                self._audit_result(principal, request, context, failed=True)
                raise
            finally:
                current_principal.reset(token)
            self._audit_result(principal, request, context, failed=False)
            if self.rule is not None and self.rule.scope is Scope.LIST:
                _filter_reply(reply, principal)
            return reply

        return guarded

    async def _prepare_unary(
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> tuple[Any, Any]:
        principal = await self.admit(context)
        await self.authorize(principal, request, context)
        return request, context

    async def _prepare_stream(
        self, request_iterator: Any, context: grpc.aio.ServicerContext
    ) -> tuple[Any, Any]:
        principal = await self.admit(context)
        await self.authorize(principal, None, context)  # the role, before any message
        rule = self.rule

        async def first(message: Message) -> None:
            await self.authorize(principal, message, context)

        async def each(message: Message) -> None:
            await self.recheck(principal, context)
            if principal.kind == "gateway":  # each TrafficReport names its gateway
                await self._check_gateway(principal, message, context)

        # The node or namespace is in the first message: check it when it is read.
        hello = rule is not None and (rule.permission == NODE_IDENTITY or rule.scope is Scope.HELLO)
        revocable = self.owner.revocations is not None or principal.kind in ("token", "gateway")
        if not hello and not revocable:
            return request_iterator, context
        checked = _CheckedStream(context, first if hello else None, each if revocable else None)
        return checked.iterate(request_iterator), checked

    def _adapt(
        self,
        inner: Callable[..., Any],
        prepare: Callable[[Any, grpc.aio.ServicerContext], Awaitable[tuple[Any, Any]]],
    ) -> Callable[..., Any]:
        # grpc.aio treats an async-generator handler and a reader/writer coroutine
        # differently (by the function's kind), so the wrapper must be of the same kind.
        if inspect.isasyncgenfunction(inner):

            async def generator(request: Any, context: grpc.aio.ServicerContext) -> Any:
                args = await prepare(request, context)
                async for item in inner(*args):
                    yield item

            return generator

        async def coroutine(request: Any, context: grpc.aio.ServicerContext) -> Any:
            args = await prepare(request, context)
            return await inner(*args)

        return coroutine

    def _audit_result(
        self,
        principal: Principal,
        request: Message,
        context: grpc.aio.ServicerContext,
        failed: bool,
    ) -> None:
        if self.rule is None or not self.rule.mutating:
            return
        code = _code(context)
        if failed and code == grpc.StatusCode.OK:
            code = grpc.StatusCode.UNKNOWN
        detail = ""
        if code != grpc.StatusCode.OK:
            detail = _details(context)
        audit.record(
            method=self.method,
            principal=principal.name,
            role=principal.role,
            result=code.name,
            object=audit_object(self.rule, request),
            peer=_peer(context),
            detail=detail,
        )


class _CheckedStream:
    """A servicer context whose reads are checked: `first` on the first message (the hello
    carries the node or namespace), `each` on every message (revocations since it opened).

    Servicers here require a hello first and abort otherwise, so a first message without
    a hello is passed through for the servicer to refuse.
    """

    def __init__(
        self,
        context: grpc.aio.ServicerContext,
        first: Callable[[Message], Awaitable[None]] | None,
        each: Callable[[Message], Awaitable[None]] | None,
    ) -> None:
        self._context = context
        self._first = first
        self._each = each
        self._seen_first = False

    async def _inspect(self, message: Any) -> None:
        if message is grpc.aio.EOF:
            return
        if self._each is not None:
            await self._each(message)
        if self._seen_first:
            return
        self._seen_first = True
        if self._first is not None and isinstance(message, Message) and _has_hello(message):
            await self._first(message)

    async def read(self) -> Any:
        message = await self._context.read()
        await self._inspect(message)
        return message

    async def iterate(self, request_iterator: Any) -> AsyncIterator[Any]:
        async for message in request_iterator:
            await self._inspect(message)
            yield message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def _has_hello(message: Message) -> bool:
    return any(f.name == "hello" for f in message.DESCRIPTOR.fields) and message.HasField("hello")


def _claimed_node(message: Message | None) -> str | None:
    if isinstance(message, node_pb2.RegisterNodeRequest):
        return message.node.name
    if isinstance(message, node_pb2.AgentMessage) and message.HasField("hello"):
        return message.hello.node
    if isinstance(message, node_pb2.WorkloadCredentialsRequest):
        return message.node
    return None


def _filter_reply(reply: Any, principal: Principal) -> None:
    """A listing across namespaces shows a namespaced token only its own."""
    if principal.may_use("*"):
        return
    workloads = getattr(reply, "workloads", None)
    if workloads is not None:
        keep = [w for w in workloads if principal.may_use(w.namespace)]
        del workloads[:]
        workloads.extend(keep)
    services = getattr(reply, "services", None)
    if services is not None:  # ListServices
        kept_services = [s for s in services if principal.may_use(s.namespace)]
        del services[:]
        services.extend(kept_services)
    migrations = getattr(reply, "migrations", None)
    if migrations is not None:  # ListMigrations: "namespace/name" in each record
        kept = [m for m in migrations if principal.may_use(m.workload.split("/", 1)[0])]
        del migrations[:]
        migrations.extend(kept)


def _code(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    try:
        code = context.code()
    except Exception:  # pragma: no cover
        return grpc.StatusCode.UNKNOWN
    if code is None:
        return grpc.StatusCode.OK
    if isinstance(code, grpc.StatusCode):
        return code
    return next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)


def _details(context: grpc.aio.ServicerContext) -> str:
    try:
        details = context.details()
    except Exception:  # pragma: no cover
        return ""
    if isinstance(details, bytes):
        return details.decode(errors="replace")
    return details or ""


def _peer(context: grpc.aio.ServicerContext) -> str:
    subject = peer_subject(context)
    peer = context.peer() or ""
    return f"{peer} ({subject})" if subject else peer
