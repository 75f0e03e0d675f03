"""AuthService: mint, list and revoke tokens; tell a caller who it is."""

from __future__ import annotations

import grpc
import structlog

from controlplane.auth.principal import ANONYMOUS, current_principal
from controlplane.auth.tokens import FileTokenImmutable, TokenNotFound, TokenStore
from controlplane.rpc.common import Leadership, abort_store_error
from sdk._tokens import TokenError
from sdk.pb.aiwo.v1 import auth_pb2, auth_pb2_grpc

log = structlog.get_logger("aiwo.auth")

MAX_DESCRIPTION_CHARS = 256
MAX_NAMESPACES = 64


class AuthService(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, tokens: TokenStore, leadership: Leadership) -> None:
        self.tokens = tokens
        self.leadership = leadership

    async def CreateToken(
        self, request: auth_pb2.CreateTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateTokenResponse:
        if len(request.description) > MAX_DESCRIPTION_CHARS:
            await _invalid(context, f"description: at most {MAX_DESCRIPTION_CHARS} characters")
        if len(request.namespaces) > MAX_NAMESPACES:
            await _invalid(context, f"namespaces: at most {MAX_NAMESPACES}")
        await self.leadership.require(context)
        caller = current_principal.get() or ANONYMOUS
        try:
            token, info = await self.tokens.create(
                request.role,
                list(request.namespaces),
                request.ttl_s,
                request.description,
                created_by=caller.name,
            )
        except TokenError as exc:
            await _invalid(context, str(exc))
        except Exception as exc:
            await abort_store_error(context, exc)
        log.info(
            "token_created",
            token_id=info.id,
            role=info.role,
            namespaces=",".join(info.namespaces),
            expires_unix=info.expires_unix,
            by=caller.name,
        )
        return auth_pb2.CreateTokenResponse(token=token, info=info)

    async def ListTokens(
        self, request: auth_pb2.ListTokensRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListTokensResponse:
        return auth_pb2.ListTokensResponse(tokens=self.tokens.infos())

    async def RevokeToken(
        self, request: auth_pb2.RevokeTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.TokenInfo:
        if not request.id:
            await _invalid(context, "id: is required")
        await self.leadership.require(context)
        try:
            info = await self.tokens.revoke(request.id)
        except TokenNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"token {request.id} not found")
        except FileTokenImmutable:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"token {request.id} comes from the tokens file: revoke it there "
                "(aiwo tokens revoke --file PATH)",
            )
        except Exception as exc:
            await abort_store_error(context, exc)
        caller = current_principal.get() or ANONYMOUS
        log.info("token_revoked", token_id=info.id, by=caller.name)
        return info

    async def WhoAmI(
        self, request: auth_pb2.WhoAmIRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.WhoAmIResponse:
        caller = current_principal.get() or ANONYMOUS
        return auth_pb2.WhoAmIResponse(
            principal=caller.name,
            role=caller.role,
            namespaces=list(caller.namespaces),
            permissions=sorted(caller.permissions),
        )


async def _invalid(context: grpc.aio.ServicerContext, message: str) -> None:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)
