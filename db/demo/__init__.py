"""Demo data for `marquee seed`: each domain contributes a seeder, run in order."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.models import User
from db.base import Base
from db.catalog.models import Movie
from db.cinemas.models import Cinema, Hall
from db.demo import accounts as accounts_demo
from db.demo import catalog as catalog_demo
from db.demo import cinemas as cinemas_demo
from db.demo import orders as orders_demo
from db.demo import pages as pages_demo
from db.demo import presale as presale_demo
from db.demo import shop as shop_demo
from db.demo import trending as trending_demo
from db.demo.config import DemoSettings
from db.orders.models import Order, Ticket
from db.pages.models import Page
from db.progress import NO_PROGRESS, Progress
from db.reviews.models import Review
from db.shop.models import Product, PromoCode
from db.showtimes.models import Showtime

# A seeder gets the session, a seeded random generator and a list to append
# human-readable lines to (printed by the CLI, e.g. demo logins in development).
Seeder = Callable[[AsyncSession, random.Random, list[str]], Awaitable[None]]

# The catalog goes before cinemas (showtimes need movies), the shop after cinemas (a
# product sold at one cinema), then orders (they need customers, showtimes, the reviews and
# the shop), then the presale premiere (it needs the loyalty points the orders give, and the
# orders must not meet a closed sale), and last the recent activity for TRENDING and the
# first popularity refresh (it counts everything the others sold, wrote and added).
SEEDERS: list[Seeder] = [
    accounts_demo.seed,
    catalog_demo.seed,
    cinemas_demo.seed,
    shop_demo.seed,
    orders_demo.seed,
    presale_demo.seed,
    trending_demo.seed,
]

# Seeders whose data quotes server settings get them as a fourth argument (`DemoSettings`,
# built from graph/settings.py by the CLI: db reads no settings); they run after SEEDERS.
SettingsSeeder = Callable[[AsyncSession, random.Random, list[str], DemoSettings], Awaitable[None]]
SETTINGS_SEEDERS: list[SettingsSeeder] = [
    pages_demo.seed,
]


# What the summary of `marquee seed` counts: (plural name, model), in the order shown.
COUNTED: list[tuple[str, type[Base]]] = [
    ("users", User),
    ("movies", Movie),
    ("reviews", Review),
    ("cinemas", Cinema),
    ("halls", Hall),
    ("showtimes", Showtime),
    ("products", Product),
    ("promo codes", PromoCode),
    ("orders", Order),
    ("tickets", Ticket),
    ("pages", Page),
]


async def is_empty(session: AsyncSession) -> bool:
    return (await session.scalar(select(func.count()).select_from(User))) == 0


async def demo_logins(session: AsyncSession) -> list[tuple[str, str]]:
    """(username, role) of the demo accounts in the database, in DEMO_USERS order; their
    password is `accounts.DEMO_PASSWORD` unless someone changed it."""
    usernames = [u for u, _, _, _ in accounts_demo.DEMO_USERS]
    rows = await session.execute(
        select(User.username, User.role).where(User.username.in_(usernames))
    )
    found = {r.username: r.role for r in rows}
    return [(u, found[u]) for u in usernames if u in found]


async def counts(session: AsyncSession) -> dict[str, int]:
    """The rows of each COUNTED model (one statement)."""
    columns = [
        select(func.count()).select_from(model).scalar_subquery().label(name)
        for name, model in COUNTED
    ]
    row = (await session.execute(select(*columns))).one()
    return {name: int(row[i]) for i, (name, _) in enumerate(COUNTED)}


def _step_name(seeder: object) -> str:
    """A seeder's name for the progress: its module's last part (`cinemas`)."""
    return str(getattr(seeder, "__module__", "?")).rpartition(".")[2]


async def seed(
    session: AsyncSession,
    settings: DemoSettings | None = None,
    progress: Progress = NO_PROGRESS,
) -> list[str]:
    """Run every seeder, one `progress` step each; `settings` default to the server
    settings' defaults."""
    settings = settings or DemoSettings()
    rng = random.Random(20261122)
    lines: list[str] = []
    progress.start(len(SEEDERS) + len(SETTINGS_SEEDERS), "steps")
    for seeder in SEEDERS:
        await seeder(session, rng, lines)
        progress.advance(_step_name(seeder))
    for settings_seeder in SETTINGS_SEEDERS:
        await settings_seeder(session, rng, lines, settings)
        progress.advance(_step_name(settings_seeder))
    return lines
