"""Small async factories for test data; they write through the domain actions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

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
    phone: str | None = None,
) -> User:
    n = next(_seq)
    async with db.transaction() as session:
        user = await account_actions.register(
            session,
            username=username or f"user{n}",
            email=email or f"user{n}@example.com",
            password=password,
            role=role,
            phone=phone,
        )
        user.is_active = is_active
    return user


# --- booking (seat holds): a showtime with a small hall, rows written directly -------------


class BookableShowtime:
    def __init__(self, id: int, hall_id: int, seat_ids: list[int]) -> None:
        self.id = id
        self.hall_id = hall_id
        self.seat_ids = seat_ids


async def create_bookable_showtime(
    db: Database,
    *,
    rows: int = 2,
    seats_per_row: int = 5,
    starts_in: timedelta = timedelta(days=1),
    status: str = "SCHEDULED",
    blocked: tuple[int, ...] = (),
) -> BookableShowtime:
    """A movie, cinema, hall (rows x seats_per_row seats; `blocked` = indexes of blocked
    seats), one showtime starting `starts_in` from now, and a price per seat type."""
    from sqlalchemy import insert, select

    from db.catalog.models import Movie
    from db.cinemas.models import Cinema, Hall, Seat
    from db.showtimes.models import Showtime, ShowtimePrice

    n = next(_seq)
    async with db.transaction() as session:
        movie_id = await session.scalar(
            insert(Movie).values(title=f"Movie {n}", duration_minutes=100).returning(Movie.id)
        )
        cinema_id = await session.scalar(
            insert(Cinema)
            .values(
                name=f"Cinema {n}",
                address="1 Main St",
                city="Springfield",
                latitude=10.0,
                longitude=10.0,
                time_zone="UTC",
            )
            .returning(Cinema.id)
        )
        hall_id = await session.scalar(
            insert(Hall).values(cinema_id=cinema_id, name=f"Hall {n}").returning(Hall.id)
        )
        await session.execute(
            insert(Seat),
            [
                {
                    "hall_id": hall_id,
                    "row_label": chr(ord("A") + r),
                    "number": s + 1,
                    "x": s,
                    "y": r,
                    "is_blocked": r * seats_per_row + s in blocked,
                }
                for r in range(rows)
                for s in range(seats_per_row)
            ],
        )
        seat_ids = list(
            (
                await session.scalars(
                    select(Seat.id).where(Seat.hall_id == hall_id).order_by(Seat.y, Seat.x)
                )
            ).all()
        )
        starts_at = datetime.now(UTC) + starts_in
        showtime_id = await session.scalar(
            insert(Showtime)
            .values(
                movie_id=movie_id,
                hall_id=hall_id,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=120),
                language="en",
                status=status,
            )
            .returning(Showtime.id)
        )
        await session.execute(
            insert(ShowtimePrice).values(
                showtime_id=showtime_id, seat_type="STANDARD", amount=Decimal("10.00")
            )
        )
    assert showtime_id is not None
    assert hall_id is not None
    return BookableShowtime(showtime_id, hall_id, seat_ids)


# --- catalog and reviews ---


async def create_genre(db: Database, name: str | None = None) -> int:
    from db.catalog import actions as catalog_actions

    async with db.transaction() as session:
        genre = await catalog_actions.create_genre(session, name or f"Genre {next(_seq)}")
        return genre.id


async def create_movie(db: Database, **fields: object) -> int:
    """A movie through the catalog action; `genre_ids`, `popularity`, ... may be given."""
    from db.catalog import actions as catalog_actions

    data: dict[str, object] = {"title": f"Film {next(_seq)}", "duration_minutes": 100}
    data.update(fields)
    async with db.transaction() as session:
        movie = await catalog_actions.create_movie(session, data)
        return movie.id


async def create_review(
    db: Database,
    *,
    user_id: int,
    movie_id: int,
    rating: int = 7,
    body: str | None = "Worth seeing.",
    title: str | None = None,
    is_spoiler: bool = False,
    is_anonymous: bool = False,
) -> int:
    from db.reviews import actions as review_actions

    async with db.transaction() as session:
        review = await review_actions.create_review(
            session,
            user_id=user_id,
            movie_id=movie_id,
            rating=rating,
            body=body,
            title=title,
            is_spoiler=is_spoiler,
            is_anonymous=is_anonymous,
        )
        return review.id


# --- cinemas, halls and showtimes (through db.cinemas.actions and db.showtimes.actions) ---


async def create_cinema(db: Database, **fields: object) -> int:
    """A cinema; defaults to Lyon (Europe/Paris). Any CinemaFields may be given."""
    from db.cinemas import actions as cinema_actions

    n = next(_seq)
    data: dict[str, object] = {
        "name": f"Cinema {n}",
        "address": f"{n} Rue de la République",
        "city": "Lyon",
        "latitude": 45.7640,
        "longitude": 4.8357,
        "time_zone": "Europe/Paris",
    }
    data.update(fields)
    async with db.transaction() as session:
        return await cinema_actions.create_cinema(session, cinema_actions.CinemaFields(**data))


async def create_hall(
    db: Database,
    cinema_id: int,
    *,
    rows: tuple[tuple[str, int, str], ...] = (("A", 5, "STANDARD"), ("B", 5, "STANDARD")),
    cleaning_minutes: int = 15,
    screen_type: str = "STANDARD",
    name: str | None = None,
) -> int:
    """A hall from a compact layout: (label, seats, seat type) per row."""
    from db.cinemas import actions as cinema_actions
    from db.cinemas.layout import RowSpec, expand_rows
    from db.errors import Validator

    v = Validator()
    seats = expand_rows([RowSpec(label, count, kind) for label, count, kind in rows], v)
    v.raise_if_any()
    async with db.transaction() as session:
        return await cinema_actions.create_hall(
            session,
            cinema_id=cinema_id,
            name=name or f"Hall {next(_seq)}",
            screen_type=screen_type,
            sound_system=None,
            cleaning_minutes=cleaning_minutes,
            seats=seats,
        )


async def create_showtime(
    db: Database,
    *,
    movie_id: int,
    hall_id: int,
    starts_at: datetime | None = None,
    prices: dict[str, str] | None = None,
    format: str = "2D",
    language: str = "en",
) -> int:
    """A showtime (default: tomorrow); prices per seat type (default 10.00 for every type)."""
    from db.showtimes import actions as showtime_actions

    table = prices or dict.fromkeys(("STANDARD", "PREMIUM", "VIP", "ACCESSIBLE"), "10.00")
    async with db.transaction() as session:
        return await showtime_actions.create_showtime(
            session,
            movie_id=movie_id,
            hall_id=hall_id,
            starts_at=starts_at or datetime.now(UTC) + timedelta(days=1),
            format=format,
            language=language,
            subtitles=None,
            prices=[showtime_actions.PriceSpec(t, Decimal(a), "EUR") for t, a in table.items()],
        )
