"""The demo seeder: three cinemas in two cities and a bookable week of showtimes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from db.cinemas.models import Cinema, Hall, Seat
from db.demo import cinemas as cinemas_demo
from db.session import Database
from db.showtimes.models import Showtime
from tests.factories import create_movie


async def test_demo_cinemas(db: Database) -> None:
    for minutes in (95, 169, 120):
        await create_movie(db, duration_minutes=minutes)
    lines: list[str] = []
    async with db.transaction() as session:
        await cinemas_demo.seed(session, random.Random(1), lines)
    assert "3 cinemas" in lines[0]
    cities = {r.city for r in await db.fetch(select(Cinema.city))}
    assert cities == {"Paris", "New York"}
    halls = await db.scalar(select(func.count()).select_from(Hall))
    assert 6 <= halls <= 12
    kinds = {r.seat_type for r in await db.fetch(select(Seat.seat_type).distinct())}
    assert kinds == {"STANDARD", "PREMIUM", "VIP", "ACCESSIBLE"}
    last = await db.scalar(select(func.max(Showtime.starts_at)))
    first = await db.scalar(select(func.min(Showtime.starts_at)))
    now = datetime.now(UTC)
    assert first > now
    assert last > now + timedelta(days=5)
    per_hall = await db.fetch(select(Showtime.hall_id, func.count()).group_by(Showtime.hall_id))
    assert len(per_hall) == halls
