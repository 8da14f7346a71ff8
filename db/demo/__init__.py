"""Demo data for `marquee seed`: each domain contributes a seeder, run in order."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.models import User
from db.demo import accounts as accounts_demo
from db.demo import catalog as catalog_demo
from db.demo import cinemas as cinemas_demo
from db.demo import orders as orders_demo
from db.demo import presale as presale_demo

# A seeder gets the session, a seeded random generator and a list to append
# human-readable lines to (printed by the CLI, e.g. demo logins in development).
Seeder = Callable[[AsyncSession, random.Random, list[str]], Awaitable[None]]

# The catalog goes before cinemas (showtimes need movies), then orders (they need
# customers, showtimes and the reviews), then the presale premiere (it needs the loyalty
# points the orders give, and the orders must not meet a closed sale).
SEEDERS: list[Seeder] = [
    accounts_demo.seed,
    catalog_demo.seed,
    cinemas_demo.seed,
    orders_demo.seed,
    presale_demo.seed,
]


async def is_empty(session: AsyncSession) -> bool:
    return (await session.scalar(select(func.count()).select_from(User))) == 0


async def seed(session: AsyncSession) -> list[str]:
    rng = random.Random(20261122)
    lines: list[str] = []
    for seeder in SEEDERS:
        await seeder(session, rng, lines)
    return lines
