"""Demo accounts: an admin, a manager and a few customers with known passwords."""

from __future__ import annotations

import random

from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.models import User
from db.accounts.passwords import hash_password

DEMO_PASSWORD = "marquee-demo"
DEMO_USERS = [
    ("admin", "admin@marquee.test", "Ada Admin", "ADMIN"),
    ("manager", "manager@marquee.test", "Max Manager", "MANAGER"),
    ("alice", "alice@marquee.test", "Alice Moreau", "CUSTOMER"),
    ("bob", "bob@marquee.test", "Bob Lindqvist", "CUSTOMER"),
    ("chloe", "chloe@marquee.test", "Chloé Dubois", "CUSTOMER"),
    ("dmitri", "dmitri@marquee.test", "Dmitri Volkov", "CUSTOMER"),
]


async def seed(session: AsyncSession, rng: random.Random, lines: list[str]) -> None:
    hashed = hash_password(DEMO_PASSWORD)
    for username, email, name, role in DEMO_USERS:
        session.add(
            User(username=username, email=email, password_hash=hashed, full_name=name, role=role)
        )
    await session.flush()
    lines.append(
        f"demo users (password '{DEMO_PASSWORD}'): "
        + ", ".join(f"{u} ({r})" for u, _, _, r in DEMO_USERS)
    )
