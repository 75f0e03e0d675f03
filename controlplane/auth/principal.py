"""Who is calling: a token's holder, a node (by its certificate), or anyone (auth off)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from controlplane.auth.permissions import ROLE_PERMISSIONS
from sdk._tokens import ALL_NAMESPACES


@dataclass(frozen=True)
class Principal:
    kind: str  # "token", "node", "gateway" (by its certificate) or "anonymous"
    id: str  # token id, node or gateway name, or ""
    role: str
    namespaces: tuple[str, ...] = (ALL_NAMESPACES,)

    @property
    def name(self) -> str:
        """How logs and audit lines name the caller: "token:1a2b3c4d5e6f", "node:gpu-7"."""
        return f"{self.kind}:{self.id}" if self.id else self.kind

    @property
    def permissions(self) -> frozenset[str]:
        return ROLE_PERMISSIONS.get(self.role, frozenset())

    def may_use(self, namespace: str) -> bool:
        return ALL_NAMESPACES in self.namespaces or namespace in self.namespaces


# With authentication off every caller acts as an admin: the plaintext development default.
ANONYMOUS = Principal("anonymous", "", "admin")

# Set by the interceptor for the duration of one call, so that a servicer (AuthService
# recording who minted a token) can ask who is calling without another parameter.
current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "aiwo_principal", default=None
)


def node_principal(node: str) -> Principal:
    return Principal("node", node, "node", ())


def gateway_principal(gateway: str) -> Principal:
    """An aiwo-gateway known by its certificate: the gateway role, no namespace of its own
    (its streams are cluster-wide)."""
    return Principal("gateway", gateway, "gateway", ())
