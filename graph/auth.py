"""Access tokens (JWT) and the permission classes declared on fields."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from strawberry.permission import BasePermission

from graph.errors import forbidden, unauthenticated
from graph.settings import Settings


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user of a request, as the users row says (not the token's claims): read
    with the token, or known to the process until a change of it is announced
    (graph/accounts/revocations.py), so a deactivated user's token stops working on every
    instance when the deactivation is heard."""

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


# Tokens whose signature and claims were checked, with their claims: a client sends the same
# token with every request, and checking its HMAC and parsing it again cost about 6% of a
# signed-in worker's time (bench/README.md, issue 14). Keyed by the token and the key that
# verified it; only a token that passed is kept, and its expiry is checked on every use.
_VERIFIED: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
_VERIFIED_MAX = 4096


def decode_access_token(token: str, settings: Settings) -> dict[str, Any]:
    """The claims of a valid access token (InvalidToken otherwise)."""
    key = (token, settings.secret(), settings.jwt_algorithm)
    known = _VERIFIED.get(key)
    if known is not None:
        if known["exp"] <= datetime.now(UTC).timestamp():
            del _VERIFIED[key]
            raise InvalidToken("The access token has expired.")
        _VERIFIED.move_to_end(key)
        return dict(known)
    claims = _verify(token, settings)
    if isinstance(claims.get("exp"), int | float):
        _VERIFIED[key] = dict(claims)
        if len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)
    return claims


def _verify(token: str, settings: Settings) -> dict[str, Any]:
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
