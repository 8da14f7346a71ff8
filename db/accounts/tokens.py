"""Refresh tokens: opaque random strings stored as SHA-256 hashes, grouped in families.

A family is one sign-in (one device). Every refresh rotates the token: the presented row is
marked rotated and a new row of the same family is issued. A rotated token presented again
means it was copied, so the whole family is revoked (RFC 9700 §4.14.2 "refresh token rotation").

The family id is also the session id (`sid`) of the access tokens issued with the family's
tokens. Every revocation announces the ended families on `SESSION_CHANNEL` inside its
transaction, so the app instances learn of it only if it committed, and refuse those access
tokens at once (graph/accounts/revocations.py).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.codes import SESSION_CHANNEL
from db.accounts.codes import AccountErrorCode as Code
from db.accounts.models import RefreshToken, User
from db.errors import DomainError

MAX_TOKEN_LENGTH = 200
# Family ids per NOTIFY payload: 150 x 33 characters stays well under PostgreSQL's 8000 bytes.
NOTIFY_CHUNK = 150


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new refresh token (shown once) and its family, the session id of its access tokens."""

    raw: str
    family_id: uuid.UUID


async def issue_refresh_token(
    session: AsyncSession, user_id: int, *, ttl_days: int, family_id: uuid.UUID | None = None
) -> IssuedToken:
    """A new token (a new family unless one is given); only its hash is stored."""
    raw = secrets.token_urlsafe(32)
    family = family_id or uuid.uuid4()
    session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family,
            token_hash=hash_token(raw),
            expires_at=_now() + timedelta(days=ttl_days),
        )
    )
    await session.flush()
    return IssuedToken(raw=raw, family_id=family)


@dataclass(slots=True)
class Rotation:
    """Outcome of a refresh. A failure is returned, not raised, so that the revocation of a
    re-used token's family commits with the mutation's transaction."""

    user: User | None = None
    token: IssuedToken | None = None
    error: DomainError | None = None


def _invalid() -> DomainError:
    return DomainError(
        Code.INVALID_TOKEN, "The refresh token is invalid or expired.", "refreshToken"
    )


async def rotate_refresh_token(session: AsyncSession, raw: str, *, ttl_days: int) -> Rotation:
    if not raw or len(raw) > MAX_TOKEN_LENGTH:
        return Rotation(error=_invalid())
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(raw)).with_for_update()
    )
    if row is None or row.revoked_at is not None:
        return Rotation(error=_invalid())
    now = _now()
    if row.rotated_at is not None:
        await revoke_family(session, row.family_id)
        return Rotation(
            error=DomainError(
                Code.INVALID_TOKEN,
                "This refresh token was already used; the session has been signed out.",
                "refreshToken",
            )
        )
    if row.expires_at <= now:
        return Rotation(error=_invalid())
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        await revoke_family(session, row.family_id)
        return Rotation(error=DomainError(Code.ACCOUNT_DISABLED, "This account is disabled."))
    row.rotated_at = now
    token = await issue_refresh_token(
        session, row.user_id, ttl_days=ttl_days, family_id=row.family_id
    )
    return Rotation(user=user, token=token)


async def _revoke(session: AsyncSession, condition: ColumnElement[bool]) -> int:
    """Revoke the matching live rows and announce the ended families (their access tokens
    stop working on every instance once this commits); returns how many sessions ended."""
    rows = (
        await session.execute(
            update(RefreshToken)
            .where(condition, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=_now())
            .returning(RefreshToken.family_id, RefreshToken.rotated_at)
        )
    ).all()
    families = sorted({row.family_id.hex for row in rows})
    for start in range(0, len(families), NOTIFY_CHUNK):
        payload = ",".join(families[start : start + NOTIFY_CHUNK])
        await session.execute(select(func.pg_notify(SESSION_CHANNEL, payload)))
    return len({row.family_id for row in rows if row.rotated_at is None})


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> int:
    return await _revoke(session, RefreshToken.family_id == family_id)


async def revoke_all(session: AsyncSession, user_id: int) -> int:
    """Sign a user out everywhere (logout allSessions, password change, deactivation): every
    refresh token, and every access token issued before now (checked per request). The
    cutoff uses the app's clock, like the tokens' `iat`, not the database's."""
    await session.execute(
        update(User).where(User.id == user_id).values(sessions_valid_after=_now())
    )
    return await _revoke(session, RefreshToken.user_id == user_id)


async def logout(
    session: AsyncSession,
    *,
    viewer_id: int | None,
    refresh_token: str | None,
    all_sessions: bool,
) -> int:
    """Revoke the session (family) of one refresh token, or every session of the user.

    The refresh token itself proves the right to end its session; ending all sessions needs
    either a signed-in viewer or a *live* refresh token of that user (not rotated, revoked or
    expired: a copy of an old token must not sign its owner out everywhere). Returns how
    many sessions ended (0 when the session had already ended: logout is idempotent)."""
    row: RefreshToken | None = None
    if refresh_token is not None:
        if len(refresh_token) <= MAX_TOKEN_LENGTH:
            row = await session.scalar(
                select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
            )
        if row is None or (viewer_id is not None and row.user_id != viewer_id):
            raise _invalid()
    if all_sessions:
        user_id = viewer_id
        if user_id is None and row is not None:
            if row.revoked_at is not None or row.rotated_at is not None or row.expires_at <= _now():
                raise _invalid()
            user_id = row.user_id
        if user_id is None:
            raise DomainError(
                Code.VALIDATION_ERROR,
                "Sign in or give a refresh token to end all sessions.",
                "allSessions",
            )
        return await revoke_all(session, user_id)
    if row is None:
        raise DomainError(
            Code.VALIDATION_ERROR, "Give the refresh token to revoke, or allSessions.", None
        )
    return await revoke_family(session, row.family_id)
