"""Access tokens (JWT) and the permission classes declared on fields."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from strawberry.permission import BasePermission

from graph.errors import forbidden, unauthenticated
from graph.settings import Settings


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user of a request, loaded from the database on each request so a
    deactivated user's token stops working at once."""

    id: int
    username: str
    role: str

    @property
    def is_staff(self) -> bool:
        return self.role in ("MANAGER", "ADMIN")

    @property
    def is_admin(self) -> bool:
        return self.role == "ADMIN"


class InvalidToken(Exception):
    pass


def create_access_token(
    user_id: int, role: str, settings: Settings, *, session_id: uuid.UUID | None = None
) -> str:
    """A signed access token. `session_id` (claim `sid`) is the refresh-token family it was
    issued with: revoking the family ends the token too (graph/accounts/revocations.py)."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "role": role,
        "type": "access",
        "iat": now,
        "exp": now + timedelta(seconds=settings.access_token_ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    if session_id is not None:
        claims["sid"] = session_id.hex
    return jwt.encode(claims, settings.secret(), algorithm=settings.jwt_algorithm)


def decode_access_token(token: str, settings: Settings) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.secret(),
            algorithms=[settings.jwt_algorithm],
            options={"require": ["sub", "exp", "iat", "type"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("The access token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("The access token is invalid.") from exc
    if claims.get("type") != "access":
        raise InvalidToken("The access token is invalid.")
    return claims


def session_id_of(claims: dict[str, Any]) -> uuid.UUID | None:
    """The token's session (refresh-token family), or None for a token issued without one."""
    sid = claims.get("sid")
    if sid is None:
        return None
    try:
        return uuid.UUID(hex=str(sid))
    except ValueError as exc:
        raise InvalidToken("The access token is invalid.") from exc


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class IsAuthenticated(BasePermission):
    message = "Sign in to do this."

    async def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        if await info.context.viewer() is None:
            raise unauthenticated()
        return True


class IsStaff(BasePermission):
    message = "Only staff can do this."

    async def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        viewer = await info.context.viewer()
        if viewer is None:
            raise unauthenticated()
        if not viewer.is_staff:
            raise forbidden("Only staff (MANAGER or ADMIN) can do this.")
        return True


class IsAdmin(BasePermission):
    message = "Only administrators can do this."

    async def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        viewer = await info.context.viewer()
        if viewer is None:
            raise unauthenticated()
        if not viewer.is_admin:
            raise forbidden("Only administrators can do this.")
        return True
