"""Demo presale: a premiere whose general sale opens in a few days, with a loyalty members'
presale open from now on, so `Showtime.salesOpenForViewer` / `nextSalesOpening` and a
presale `holdSeats` can be tried at once (docs/shop.md, "Presale waves").

The premiere is the first upcoming showtime, at least PREMIERE_AFTER away and with no seat
taken, of the most popular demo film that has one (popularity, then id): deterministic
for given demo data. Runs after the orders (they give the customers their loyalty points),
so the demo orders never meet a closed sale. The wave asks for MEMBERS_MIN_POINTS points;
should no demo customer have that many (the orders' totals vary a little with the day the
demo is seeded), the best customer's points rounded down to ten, so someone qualifies.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.models import User
from db.booking.models import SeatOccupancy
from db.catalog.models import Movie
from db.showtimes.codes import PresaleAudience
from db.showtimes.models import PresaleWave, Showtime

PREMIERE_AFTER = timedelta(days=4)
GENERAL_SALE_IN = timedelta(days=3)
MEMBERS_MIN_POINTS = 50
WAVE_NAME = "Loyalty members' presale"


async def seed(session: AsyncSession, rng: random.Random, lines: list[str]) -> None:
    now = await session.scalar(select(func.now()))
    assert now is not None
    row = (
        await session.execute(
            select(Showtime.id, Showtime.starts_at, Movie.title)
            .join(Movie, Movie.id == Showtime.movie_id)
            .where(
                Showtime.status == "SCHEDULED",
                Showtime.starts_at >= now + PREMIERE_AFTER,
                ~exists().where(SeatOccupancy.showtime_id == Showtime.id),
            )
            .order_by(Movie.popularity.desc(), Movie.id, Showtime.starts_at, Showtime.id)
            .limit(1)
        )
    ).first()
    if row is None:
        lines.append("demo presale: no showtime far enough ahead, so no premiere")
        return
    best = await session.scalar(
        select(func.max(User.loyalty_points)).where(User.role == "CUSTOMER")
    )
    min_points = MEMBERS_MIN_POINTS
    if best is not None and 10 <= best < min_points:
        min_points = best // 10 * 10
    hour = now.replace(minute=0, second=0, microsecond=0)
    general = hour + GENERAL_SALE_IN
    await session.execute(
        update(Showtime).where(Showtime.id == row.id).values(sales_open_at=general)
    )
    await session.execute(
        insert(PresaleWave).values(
            showtime_id=row.id,
            name=WAVE_NAME,
            opens_at=hour,
            audience=PresaleAudience.LOYALTY_MEMBERS.value,
            min_loyalty_points=min_points,
        )
    )
    members = (
        await session.scalars(
            select(User.username)
            .where(User.role == "CUSTOMER", User.loyalty_points >= min_points)
            .order_by(User.username)
        )
    ).all()
    lines.append(
        f"demo presale: premiere of {row.title} on {row.starts_at:%Y-%m-%d %H:%M} UTC, general "
        f"sale from {general:%Y-%m-%d %H:%M} UTC, open now to customers with "
        f"{min_points}+ loyalty points ({', '.join(members) or 'none yet'})"
    )
