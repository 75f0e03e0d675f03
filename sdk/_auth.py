"""`AuthClient`: mint, list and revoke bearer tokens (AuthService); ask who you are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sdk import _convert as convert
from sdk._channel import Connection, ConnectionClient
from sdk._sync import Blocking, blocking
from sdk.pb.aiwo.v1 import auth_pb2, auth_pb2_grpc


@dataclass(frozen=True)
class TokenInfo:
    """A token as the controller describes it: never the token itself, only its id."""

    id: str
    role: str
    namespaces: tuple[str, ...]
    created_unix: float
    expires_unix: float  # 0 = never
    revoked: bool
    revoked_unix: float
    description: str
    created_by: str
    source: str  # "etcd" (minted through the API) or "file" (the controller's tokens file)
    workload: str = ""  # a managed workload's token: "namespace/name" ...
    node: str = ""  # ... and the node it was issued to (revoked when the workload leaves it)

    def status(self, now: float) -> str:
        if self.revoked:
            return "revoked"
        if self.expires_unix and now >= self.expires_unix:
            return "expired"
        return "active"

    @classmethod
    def from_pb(cls, info: auth_pb2.TokenInfo) -> TokenInfo:
        return convert.from_pb(cls, info)  # its fields are the message's (tests/sdk)


@dataclass(frozen=True)
class Identity:
    """Who the controller takes the caller for."""

    principal: str  # "token:ID", or "anonymous" when the controller does not require tokens
    role: str
    namespaces: tuple[str, ...]
    permissions: tuple[str, ...]


class AuthClient(ConnectionClient):
    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._stub = auth_pb2_grpc.AuthServiceStub(connection.channel)

    async def create_token(
        self,
        role: str,
        namespaces: Sequence[str] = (),
        ttl_s: float = 0.0,
        description: str = "",
    ) -> tuple[str, TokenInfo]:
        """(token, info). The token is in this answer only: the controller keeps a hash."""
        reply: auth_pb2.CreateTokenResponse = await self._connection.call(
            self._stub.CreateToken,
            auth_pb2.CreateTokenRequest(
                role=role, namespaces=list(namespaces), ttl_s=ttl_s, description=description
            ),
        )
        return reply.token, TokenInfo.from_pb(reply.info)

    async def list_tokens(self) -> list[TokenInfo]:
        reply: auth_pb2.ListTokensResponse = await self._connection.call(
            self._stub.ListTokens, auth_pb2.ListTokensRequest()
        )
        return [TokenInfo.from_pb(info) for info in reply.tokens]

    async def revoke_token(self, token_id: str) -> TokenInfo:
        reply: auth_pb2.TokenInfo = await self._connection.call(
            self._stub.RevokeToken, auth_pb2.RevokeTokenRequest(id=token_id)
        )
        return TokenInfo.from_pb(reply)

    async def who_am_i(self) -> Identity:
        reply: auth_pb2.WhoAmIResponse = await self._connection.call(
            self._stub.WhoAmI, auth_pb2.WhoAmIRequest()
        )
        return Identity(
            reply.principal, reply.role, tuple(reply.namespaces), tuple(reply.permissions)
        )


class SyncAuthClient(Blocking[AuthClient]):
    """`AuthClient` for code without asyncio (the `aiwo tokens` commands); its methods are
    the async ones, derived (`blocking`)."""

    _client = AuthClient

    create_token = blocking(AuthClient.create_token)
    list_tokens = blocking(AuthClient.list_tokens)
    revoke_token = blocking(AuthClient.revoke_token)
    who_am_i = blocking(AuthClient.who_am_i)
