"""Staff actions on showtimes: schedule (never overlapping), change, cancel. Plain async
functions on a session that raise `DomainError` with `CinemaErrorCode`s."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.catalog.models import Movie
from db.cinemas.actions import UNSET
from db.cinemas.codes import CinemaErrorCode, SeatType
from db.cinemas.models import Cinema, Hall, Seat
from db.errors import DomainError, Validator
from db.showtimes.codes import SHOWTIME_FORMATS
from db.showtimes.models import SHOWTIME_OVERLAP_CONSTRAINT, Showtime, ShowtimePrice
from db.showtimes.presale import WaveSpec, current_waves, replace_waves, validate_presale

__all__ = [
    "UNSET",
    "PriceSpec",
    "WaveSpec",
    "cancel_showtime",
    "create_showtime",
    "update_showtime",
]

C = CinemaErrorCode
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class PriceSpec:
    seat_type: str
    amount: Decimal
    currency: str


def _validate_prices(prices: Sequence[PriceSpec], hall_types: set[str], v: Validator) -> None:
    seen: set[str] = set()
    currencies: set[str] = set()
    for i, p in enumerate(prices):
        where = f"prices[{i}]"
        v.check(p.seat_type in SeatType.__members__, f"{where}.seatType", "Unknown seat type.")
        v.check(p.seat_type not in seen, f"{where}.seatType", f"{p.seat_type} is priced twice.")
        seen.add(p.seat_type)
        ok_amount = (
            p.amount.is_finite()
            and p.amount >= 0
            and p.amount < Decimal("100000000")
            and p.amount == p.amount.quantize(Decimal("0.01"))
        )
        v.check(ok_amount, f"{where}.amount", "An amount is >= 0 with at most 2 decimals.")
        v.check(
            bool(CURRENCY_RE.match(p.currency)), f"{where}.currency", "An ISO 4217 code, e.g. EUR."
        )
        currencies.add(p.currency)
    v.check(len(currencies) <= 1, "prices", "All prices of a showtime use one currency.")
    missing = sorted(hall_types - seen)
    if missing:
        v.add(
            "prices",
            f"Prices are missing for seat types of this hall: {', '.join(missing)}.",
            C.PRICE_MISSING,
        )


def _validate_showtime_fields(values: dict[str, Any], now: datetime, v: Validator) -> None:
    if "starts_at" in values:
        starts_at = values["starts_at"]
        if starts_at.tzinfo is None:
            v.add("startsAt", "A start time needs a UTC offset.")
        else:
            v.check(
                starts_at > now,
                "startsAt",
                "A showtime can't start in the past.",
                C.SHOWTIME_IN_PAST,
            )
    if "format" in values:
        v.check(
            values["format"] in SHOWTIME_FORMATS,
            "format",
            f"The format is one of {', '.join(SHOWTIME_FORMATS)}.",
        )
    if "language" in values:
        lang = values["language"]
        v.check(
            lang is not None and 0 < len(lang.strip()) <= 32, "language", "A language is required."
        )
    if values.get("subtitles") is not None:
        v.check(len(values["subtitles"]) <= 32, "subtitles", "At most 32 characters.")


async def _hall_seat_types(session: AsyncSession, hall_id: int) -> set[str]:
    return set(
        (
            await session.scalars(select(Seat.seat_type).where(Seat.hall_id == hall_id).distinct())
        ).all()
    )


async def _insert_or_overlap(session: AsyncSession, stmt: Any) -> Any:
    """Run a showtime write; the exclusion constraint's verdict becomes SHOWTIME_OVERLAP."""
    try:
        async with session.begin_nested():
            return await session.scalar(stmt)
    except IntegrityError as exc:
        if SHOWTIME_OVERLAP_CONSTRAINT in str(exc.orig):
            raise DomainError(
                C.SHOWTIME_OVERLAP,
                "Another showtime in this hall overlaps this time (cleaning time included).",
                "startsAt",
            ) from exc
        raise


async def _replace_prices(
    session: AsyncSession, showtime_id: int, prices: Sequence[PriceSpec]
) -> None:
    await session.execute(delete(ShowtimePrice).where(ShowtimePrice.showtime_id == showtime_id))
    if prices:
        await session.execute(
            insert(ShowtimePrice),
            [
                {
                    "showtime_id": showtime_id,
                    "seat_type": p.seat_type,
                    "amount": p.amount,
                    "currency": p.currency,
                }
                for p in prices
            ],
        )


async def create_showtime(
    session: AsyncSession,
    *,
    movie_id: int,
    hall_id: int,
    starts_at: datetime,
    format: str,
    language: str,
    subtitles: str | None,
    prices: Sequence[PriceSpec],
    sales_open_at: datetime | None = None,
    presale_waves: Sequence[WaveSpec] = (),
    now: datetime | None = None,
) -> int:
    """ends_at = start + movie duration + the hall's cleaning time. General sale opens at
    `sales_open_at` (None: at once), presale waves earlier (db/showtimes/presale.py)."""
    now = now or datetime.now(UTC)
    v = Validator()
    values: dict[str, Any] = {
        "starts_at": starts_at,
        "format": format,
        "language": language,
        "subtitles": subtitles,
    }
    _validate_showtime_fields(values, now, v)
    movie = (
        await session.execute(
            select(Movie.duration_minutes, Movie.is_active).where(Movie.id == movie_id)
        )
    ).first()
    if movie is None:
        v.add("movieId", "No such movie.", C.NOT_FOUND)
    elif not movie.duration_minutes:
        v.add("movieId", "The movie has no duration; set it first.")
    hall = (
        await session.execute(
            select(Hall.cleaning_minutes, Hall.is_active, Cinema.is_active.label("cinema_active"))
            .join(Cinema, Cinema.id == Hall.cinema_id)
            .where(Hall.id == hall_id)
        )
    ).first()
    if hall is None:
        v.add("hallId", "No such hall.", C.NOT_FOUND)
    else:
        v.check(
            hall.is_active and hall.cinema_active,
            "hallId",
            "The hall (or its cinema) is not active.",
            C.HALL_INACTIVE,
        )
        _validate_prices(prices, await _hall_seat_types(session, hall_id), v)
    waves = []
    if starts_at.tzinfo is not None:
        waves = await validate_presale(
            session, sales_open_at=sales_open_at, starts_at=starts_at, waves=presale_waves, v=v
        )
    v.raise_if_any()
    assert movie is not None
    assert hall is not None
    values["language"] = language.strip()
    # In UTC: wall-clock arithmetic in a local zone would be off by an hour across DST.
    values["starts_at"] = starts_at = starts_at.astimezone(UTC)
    values["ends_at"] = starts_at + timedelta(
        minutes=movie.duration_minutes + hall.cleaning_minutes
    )
    values["sales_open_at"] = sales_open_at
    showtime_id = int(
        await _insert_or_overlap(
            session,
            insert(Showtime)
            .values(movie_id=movie_id, hall_id=hall_id, **values)
            .returning(Showtime.id),
        )
    )
    await _replace_prices(session, showtime_id, prices)
    await replace_waves(session, showtime_id, waves)
    return showtime_id


async def update_showtime(
    session: AsyncSession,
    showtime_id: int,
    *,
    starts_at: Any = UNSET,
    format: Any = UNSET,
    language: Any = UNSET,
    subtitles: Any = UNSET,
    prices: Any = UNSET,
    sales_open_at: Any = UNSET,
    presale_waves: Any = UNSET,
    now: datetime | None = None,
) -> int:
    """Change a scheduled showtime; a new start recomputes ends_at. Prices, when given,
    replace all prices (every seat type of the hall must still be priced); so do presale
    waves. `sales_open_at=None` puts the showtime on sale at once. The resulting opening
    and waves are checked together (db/showtimes/presale.py)."""
    now = now or datetime.now(UTC)
    row = (
        await session.execute(
            select(
                Showtime.status,
                Showtime.hall_id,
                Showtime.starts_at,
                Showtime.sales_open_at,
                Movie.duration_minutes,
                Hall.cleaning_minutes,
            )
            .join(Movie, Movie.id == Showtime.movie_id)
            .join(Hall, Hall.id == Showtime.hall_id)
            .where(Showtime.id == showtime_id)
            .with_for_update(of=Showtime)
        )
    ).first()
    if row is None:
        raise DomainError(C.NOT_FOUND, "No such showtime.", "id")
    if row.status != "SCHEDULED":
        raise DomainError(C.SHOWTIME_CANCELLED, "A cancelled showtime can't be changed.", "id")
    given = {"starts_at": starts_at, "format": format, "language": language, "subtitles": subtitles}
    values = {k: val for k, val in given.items() if val is not UNSET}
    for key in ("starts_at", "format", "language"):
        if key in values and values[key] is None:
            values.pop(key)
    v = Validator()
    _validate_showtime_fields(values, now, v)
    if prices is not UNSET and prices is not None:
        _validate_prices(prices, await _hall_seat_types(session, row.hall_id), v)
    new_waves: list[Any] | None = None
    changes_sale = sales_open_at is not UNSET or presale_waves is not UNSET
    new_start = values.get("starts_at", row.starts_at)
    if (changes_sale or "starts_at" in values) and new_start.tzinfo is not None:
        waves = (
            await current_waves(session, showtime_id)
            if presale_waves is UNSET
            else list(presale_waves)
        )
        checked = await validate_presale(
            session,
            sales_open_at=row.sales_open_at if sales_open_at is UNSET else sales_open_at,
            starts_at=new_start,
            waves=waves,
            v=v,
        )
        if presale_waves is not UNSET:
            new_waves = checked
    v.raise_if_any()
    if sales_open_at is not UNSET:
        values["sales_open_at"] = sales_open_at
    if "starts_at" in values:
        values["starts_at"] = values["starts_at"].astimezone(UTC)
        values["ends_at"] = values["starts_at"] + timedelta(
            minutes=(row.duration_minutes or 0) + row.cleaning_minutes
        )
    if values:
        await _insert_or_overlap(
            session,
            update(Showtime)
            .where(Showtime.id == showtime_id)
            .values(**values)
            .returning(Showtime.id),
        )
    if prices is not UNSET and prices is not None:
        await _replace_prices(session, showtime_id, prices)
    if new_waves is not None:
        await replace_waves(session, showtime_id, new_waves)
    return showtime_id


async def cancel_showtime(session: AsyncSession, showtime_id: int) -> bool:
    """Mark a showtime CANCELLED (idempotent); True when this call cancelled it.

    The first of cancelShowtime's two transactions (docs/orders.md, "Lock order"): it locks
    the showtime row and nothing else, so it cannot close a cycle with the sale, which
    takes the showtime last. Once committed, no hold, checkout or announcement with
    `require_scheduled` gets through; the seats, orders and refunds are released after it
    (`db.orders.actions.release_cancelled_showtime`, then the payment background work)."""
    status = await session.scalar(
        select(Showtime.status).where(Showtime.id == showtime_id).with_for_update()
    )
    if status is None:
        raise DomainError(C.NOT_FOUND, "No such showtime.", "id")
    if status == "CANCELLED":
        return False
    await session.execute(
        update(Showtime).where(Showtime.id == showtime_id).values(status="CANCELLED")
    )
    return True
