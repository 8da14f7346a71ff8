"""One-time links to set a password: an account an administrator created (SET) and a
forgotten password (RESET).

A token is 32 random bytes (URL-safe base64); only its SHA-256 is stored. It works once,
until it expires, and only while it is the account's latest: issuing a new one, changing
the password, or erasing the account voids the older ones. Redeeming locks the token's row,
so two requests racing with one link set one password; it also ends every session of the
account (whoever knew the old password is signed out) and signs the redeemer in.

The e-mail that carries the link is written to the outbox in the same transaction. The
link is the one secret an outbox row holds: it sits under the context key `secret_link`,
which the outbox removes as soon as the message is settled (sent or failed for good), so
that it is not kept in the database or its backups (db/outbox/actions.py).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts import tokens
from db.accounts.codes import AccountErrorCode as Code
from db.accounts.models import PasswordToken, User
from db.accounts.passwords import check_password, hash_password
from db.errors import DomainError, Validator
from db.outbox.actions import enqueue_email
from db.outbox.codes import EmailTemplate

# What makes a token's link: the page that reads it from the fragment (never sent to a
# server, so it stays out of access logs and Referer headers).
LINK_PATH = "/account/password#token="
TOKEN_BYTES = 32


class Purpose(StrEnum):
    SET = "SET"  # a new account, created by an administrator
    RESET = "RESET"  # a forgotten password


TEMPLATES = {Purpose.SET: EmailTemplate.SET_PASSWORD, Purpose.RESET: EmailTemplate.PASSWORD_RESET}


def _now() -> datetime:
    return datetime.now(UTC)


def link(base_url: str, raw: str) -> str:
    return f"{base_url.rstrip('/')}{LINK_PATH}{raw}"


async def void_password_tokens(session: AsyncSession, user_id: int) -> None:
    """Every unused token of the account stops working."""
    await session.execute(
        update(PasswordToken)
        .where(PasswordToken.user_id == user_id, PasswordToken.used_at.is_(None))
        .values(used_at=_now())
        .execution_options(synchronize_session=False)
    )


async def send_password_link(
    session: AsyncSession,
    user: User,
    *,
    purpose: Purpose,
    ttl: timedelta,
    base_url: str,
) -> str:
    """Issue a token (voiding the account's older ones) and write its e-mail to the outbox;
    returns the token (for tests and the CLI: it is shown nowhere else)."""
    await void_password_tokens(session, user.id)
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    row = PasswordToken(
        user_id=user.id,
        purpose=purpose.value,
        token_hash=tokens.hash_token(raw),
        expires_at=_now() + ttl,
    )
    session.add(row)
    await session.flush()
    await enqueue_email(
        session,
        template=TEMPLATES[purpose].value,
        to=user.email,
        context={
            "customer_name": user.full_name or user.username,
            "username": user.username,
            "expires_at": row.expires_at.isoformat(),
            "secret_link": link(base_url, raw),
        },
        dedupe_key=f"password-token:{row.id}",
    )
    return raw


def _invalid() -> DomainError:
    return DomainError(
        Code.INVALID_TOKEN,
        "This link is invalid, expired or already used; ask for a new one.",
        "token",
    )


async def redeem(
    session: AsyncSession, *, raw: str, new_password: str, refresh_ttl_days: int
) -> tuple[User, tokens.IssuedToken]:
    """Set the password a token allows: the token is spent, every session of the account
    ends, and the caller is signed in with a new one."""
    if not raw or len(raw) > tokens.MAX_TOKEN_LENGTH:
        raise _invalid()
    row = await session.scalar(
        select(PasswordToken)
        .where(PasswordToken.token_hash == tokens.hash_token(raw))
        .with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= _now():
        raise _invalid()
    user = await session.get(User, row.user_id, with_for_update=True)
    if user is None or not user.is_active:
        raise _invalid()
    v = Validator()
    check_password(new_password, v, "newPassword")
    v.raise_if_any()
    user.password_hash = hash_password(new_password)
    await void_password_tokens(session, user.id)
    await tokens.revoke_all(session, user.id)
    token = await tokens.issue_refresh_token(session, user.id, ttl_days=refresh_ttl_days)
    await session.flush()
    await session.refresh(user)
    return user, token
