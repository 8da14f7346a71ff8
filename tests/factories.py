"""Small async factories for test data; they write through the domain actions."""

from __future__ import annotations

import itertools

from db.accounts import actions as account_actions
from db.accounts.models import User
from db.session import Database

_seq = itertools.count(1)


async def create_user(
    db: Database,
    *,
    username: str | None = None,
    email: str | None = None,
    password: str = "correct-horse-battery",
    role: str = "CUSTOMER",
    is_active: bool = True,
) -> User:
    n = next(_seq)
    async with db.transaction() as session:
        user = await account_actions.register(
            session,
            username=username or f"user{n}",
            email=email or f"user{n}@example.com",
            password=password,
            role=role,
        )
        user.is_active = is_active
    return user
