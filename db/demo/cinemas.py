"""Demo cinemas: three cinemas in two cities (real places and time zones), halls with
IMAX/VIP and accessible seats, and a week of showtimes from today for the demo films."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.catalog.models import Movie
from db.cinemas import actions
from db.cinemas.layout import RowSpec, expand_rows
from db.errors import Validator
from db.showtimes import actions as showtime_actions

DAYS = 7
FIRST_SHOW = time(10, 30)
LAST_START = time(22, 30)

# (name, address, city, latitude, longitude, time zone, currency, halls)
# hall: (name, screen type, sound system, cleaning minutes, rows)
# row: (label, seats, seat type, gaps)
Row = tuple[str, int, str, tuple[int, ...]]
_STD: list[Row] = [(chr(ord("A") + i), 14, "STANDARD", (8,)) for i in range(8)]
_IMAX: list[Row] = (
    [(chr(ord("A") + i), 22, "STANDARD", (6, 19)) for i in range(10)]
    + [("K", 20, "PREMIUM", (6, 17)), ("L", 20, "PREMIUM", (6, 17))]
    + [("M", 12, "VIP", ()), ("N", 12, "VIP", ())]
)
_ACCESSIBLE: list[Row] = [
    ("A", 6, "ACCESSIBLE", (4,)),
    *((chr(ord("B") + i), 12, "STANDARD", (7,)) for i in range(7)),
]
_DOLBY: list[Row] = [
    *((chr(ord("A") + i), 16, "STANDARD", ()) for i in range(9)),
    ("J", 10, "VIP", ()),
]
_SMALL: list[Row] = [(chr(ord("A") + i), 10, "STANDARD", ()) for i in range(6)]

HallDef = tuple[str, str, str, int, list[Row]]
CinemaDef = tuple[str, str, str, float, float, str, str, list[HallDef]]

CINEMAS: list[CinemaDef] = [
    (
        "Marquee Grands Boulevards",
        "30 Boulevard Poissonnière",
        "Paris",
        48.8712,
        2.3431,
        "Europe/Paris",
        "EUR",
        [
            ("Salle 1 IMAX", "IMAX", "IMAX 12-channel", 25, _IMAX),
            ("Salle 2", "STANDARD", "Dolby Digital 7.1", 15, _ACCESSIBLE),
            ("Salle 3 Dolby", "DOLBY_CINEMA", "Dolby Atmos", 20, _DOLBY),
        ],
    ),
    (
        "Marquee Bercy",
        "2 Cour Saint-Émilion",
        "Paris",
        48.8331,
        2.3862,
        "Europe/Paris",
        "EUR",
        [
            ("Salle A", "STANDARD", "Dolby Digital 5.1", 15, _STD),
            ("Salle B", "STANDARD", "Dolby Digital 5.1", 15, _SMALL),
        ],
    ),
    (
        "Marquee Union Square",
        "850 Broadway",
        "New York",
        40.7342,
        -73.9910,
        "America/New_York",
        "USD",
        [
            ("Theater 1", "4DX", "DTS:X", 25, _STD),
            ("Theater 2", "STANDARD", "Dolby Digital 7.1", 15, _ACCESSIBLE),
            ("Theater 3", "STANDARD", "Dolby Digital 5.1", 15, _SMALL),
            ("Theater 4 IMAX", "IMAX", "IMAX 12-channel", 25, _IMAX),
        ],
    ),
]
BASE_PRICE = {"EUR": Decimal("11.50"), "USD": Decimal("14.00")}
SURCHARGE = {
    "STANDARD": Decimal("0"),
    "PREMIUM": Decimal("3.00"),
    "VIP": Decimal("7.00"),
    "ACCESSIBLE": Decimal("0"),
}
SCREEN_FORMAT = {"IMAX": "IMAX", "4DX": "4DX", "DOLBY_CINEMA": "DOLBY_CINEMA"}
SCREEN_EXTRA = {"IMAX": Decimal("5.00"), "4DX": Decimal("6.00"), "DOLBY_CINEMA": Decimal("4.00")}


def _next_start(start: datetime, minutes: int, tz: ZoneInfo) -> datetime:
    """The next quarter hour after a show ends, computed in UTC (local wall-clock arithmetic
    would be off by an hour across a daylight-saving change)."""
    step = timedelta(minutes=15)
    end = start.astimezone(UTC) + timedelta(minutes=minutes)
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return (epoch + -((epoch - end) // step) * step).astimezone(tz)


async def seed(session: AsyncSession, rng: random.Random, lines: list[str]) -> None:
    movies = list(
        (
            await session.execute(
                select(Movie.id, Movie.duration_minutes)
                .where(Movie.is_active.is_(True), Movie.duration_minutes.is_not(None))
                .order_by(Movie.popularity.desc(), Movie.id)
                .limit(12)
            )
        ).all()
    )
    now = datetime.now(UTC)
    shows = 0
    for name, address, city, lat, lon, tz_name, currency, halls in CINEMAS:
        tz = ZoneInfo(tz_name)
        cinema_id = await actions.create_cinema(
            session,
            actions.CinemaFields(
                name=name,
                address=address,
                city=city,
                latitude=lat,
                longitude=lon,
                time_zone=tz_name,
                phone="+33 1 00 00 00 00" if city == "Paris" else "+1 212 555 0100",
                email=f"{name.split()[-1].lower()}@marquee.test",
                opens_at=time(10, 0),
                closes_at=time(23, 59),
            ),
        )
        for hall_name, screen, sound, cleaning, rows in halls:
            v = Validator()
            seats = expand_rows([RowSpec(label, n, kind, gaps) for label, n, kind, gaps in rows], v)
            v.raise_if_any()
            hall_id = await actions.create_hall(
                session,
                cinema_id=cinema_id,
                name=hall_name,
                screen_type=screen,
                sound_system=sound,
                cleaning_minutes=cleaning,
                seats=seats,
            )
            if not movies:
                continue
            kinds = sorted({s.seat_type for s in seats})
            base = BASE_PRICE[currency] + SCREEN_EXTRA.get(screen, Decimal("0"))
            prices = [showtime_actions.PriceSpec(k, base + SURCHARGE[k], currency) for k in kinds]
            today = now.astimezone(tz).date()
            for day in range(DAYS):
                local_day = today + timedelta(days=day)
                start = datetime.combine(local_day, FIRST_SHOW, tzinfo=tz)
                start += timedelta(minutes=15 * rng.randrange(0, 4))
                last = datetime.combine(local_day, LAST_START, tzinfo=tz)
                while start <= last:
                    movie_id, minutes = movies[rng.randrange(len(movies))]
                    duration: int = minutes or 120
                    if start > now + timedelta(minutes=5):
                        fmt = SCREEN_FORMAT.get(screen) or rng.choice(["2D", "2D", "3D"])
                        await showtime_actions.create_showtime(
                            session,
                            movie_id=movie_id,
                            hall_id=hall_id,
                            starts_at=start,
                            format=fmt,
                            language="en",
                            subtitles="fr" if city == "Paris" else None,
                            prices=prices,
                            now=now,
                        )
                        shows += 1
                    start = _next_start(start, duration + cleaning, tz)
    if movies:
        lines.append(
            f"demo cinemas: {len(CINEMAS)} cinemas in Paris and New York, "
            f"{shows} showtimes over the next {DAYS} days"
        )
    else:
        lines.append("demo cinemas: no movies with a duration, so no showtimes were scheduled")
