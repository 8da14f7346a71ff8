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
from db.demo import pages as pages_demo
from db.demo import presale as presale_demo
from db.demo import shop as shop_demo
from db.demo.config import DemoSettings

# A seeder gets the session, a seeded random generator and a list to append
# human-readable lines to (printed by the CLI, e.g. demo logins in development).
Seeder = Callable[[AsyncSession, random.Random, list[str]], Awaitable[None]]

# The catalog goes before cinemas (showtimes need movies), the shop after cinemas (a
# product sold at one cinema), then orders (they need customers, showtimes, the reviews and
# the shop), then the presale premiere (it needs the loyalty points the orders give, and the
# orders must not meet a closed sale).
SEEDERS: list[Seeder] = [
    accounts_demo.seed,
    catalog_demo.seed,
    cinemas_demo.seed,
    shop_demo.seed,
    orders_demo.seed,
    presale_demo.seed,
]

# Seeders whose data quotes server settings get them as a fourth argument (`DemoSettings`,
# built from graph/settings.py by the CLI: db reads no settings); they run after SEEDERS.
SettingsSeeder = Callable[[AsyncSession, random.Random, list[str], DemoSettings], Awaitable[None]]
SETTINGS_SEEDERS: list[SettingsSeeder] = [
    pages_demo.seed,
]


async def is_empty(session: AsyncSession) -> bool:
    return (await session.scalar(select(func.count()).select_from(User))) == 0


async def seed(session: AsyncSession, settings: DemoSettings | None = None) -> list[str]:
    """Run every seeder; `settings` default to the server settings' defaults."""
    settings = settings or DemoSettings()
    rng = random.Random(20261122)
    lines: list[str] = []
    for seeder in SEEDERS:
        await seeder(session, rng, lines)
    for settings_seeder in SETTINGS_SEEDERS:
        await settings_seeder(session, rng, lines, settings)
    return lines
