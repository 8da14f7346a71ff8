"""Account actions: plain async functions on a session; failures are DomainErrors."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.codes import AccountErrorCode as Code
from db.accounts.models import User
from db.accounts.passwords import hash_password
from db.errors import DomainError, Validator

USERNAME_RE = re.compile(r"^[a-z0-9_.]{3,32}$")


def _normalize_email(raw: str, v: Validator, field: str = "email") -> str:
    try:
        return str(validate_email(raw.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        v.add(field, f"Not a valid e-mail address: {exc}")
        return raw


def _check_password(password: str, v: Validator, field: str = "password") -> None:
    v.check(8 <= len(password) <= 128, field, "The password must be 8 to 128 characters long.")


async def register(
    session: AsyncSession,
    *,
    username: str,
    email: str,
    password: str,
    full_name: str | None = None,
    role: str = "CUSTOMER",
) -> User:
    v = Validator()
    username = username.strip()
    v.check(
        bool(USERNAME_RE.match(username.lower())),
        "username",
        "The username must be 3 to 32 characters of a-z, 0-9, '_' and '.'.",
    )
    email = _normalize_email(email, v)
    _check_password(password, v)
    if full_name is not None:
        v.check(len(full_name) <= 200, "fullName", "The full name is at most 200 characters.")
    v.raise_if_any()
    taken = (
        await session.execute(
            select(User.username, User.email).where(
                (User.username == username) | (User.email == email)
            )
        )
    ).all()
    for row in taken:
        if row.username.lower() == username.lower():
            raise DomainError(Code.ALREADY_EXISTS, "This username is taken.", "username")
        raise DomainError(Code.ALREADY_EXISTS, "This e-mail is already registered.", "email")
    user = User(
        username=username,
        email=email,
        password_hash=hash_password(password),
        full_name=full_name,
        role=role,
    )
    session.add(user)
    await session.flush()
    return user


async def create_admin(session: AsyncSession, *, username: str, email: str, password: str) -> User:
    """The first admin (CLI). An existing user of that name is promoted instead."""
    existing = await session.scalar(
        select(User).where(func.lower(User.username) == username.lower())
    )
    if existing is not None:
        existing.role = "ADMIN"
        existing.password_hash = hash_password(password)
        return existing
    return await register(session, username=username, email=email, password=password, role="ADMIN")
