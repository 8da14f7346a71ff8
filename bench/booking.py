"""Shared by the booking scenarios (`holds`, `holds_spread`, `fanout`): direct SQL access to the
bench server's database, users inserted in bulk with access tokens minted offline, and a
300-seat hall with showtimes created through the API."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bench.scenario import BenchError
from bench.scenarios.seatmap import _call, _login, create_venue
from bench.server import Server
from graph.auth import create_access_token
from graph.relay import parse_global_id, to_global_id
from graph.settings import Settings

ROWS = 15
SEATS_PER_ROW = 20
SHOWTIME_SPACING = timedelta(hours=3)  # showtimes of one hall never overlap


def dsn(server: Server) -> str:
    """A libpq-style DSN for the server's database (asyncpg, without SQLAlchemy)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        parts = urlsplit(url)
        return parts._replace(scheme="postgresql").geturl()
    if server.data_dir is None:
        raise BenchError("this scenario needs the server's database (not available with --url)")
    socket_dir = (server.data_dir / "pg").resolve()
    return f"postgresql://postgres@/marquee?host={socket_dir}"


def jwt_secret(server: Server) -> str:
    """The secret the server signs tokens with: MARQUEE_JWT_SECRET, or the development
    secret the server keeps in its data directory."""
    secret = os.environ.get("MARQUEE_JWT_SECRET")
    if secret:
        return secret
    if server.data_dir is None:
        raise BenchError("cannot mint tokens: no MARQUEE_JWT_SECRET and no data directory")
    path = Path(server.data_dir) / "jwt-secret"
    if not path.exists():
        raise BenchError(f"{path} does not exist: did the server start?")
    return path.read_text().strip()


async def connect(server: Server) -> Any:
    return await asyncpg.connect(dsn(server))


@dataclass
class Racer:
    user_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_users(server: Server, n: int, prefix: str = "racer") -> list[Racer]:
    """`n` customers inserted in one statement (no password hashing: they never log in)
    and an access token for each."""
    tag = secrets.token_hex(3)
    conn = await connect(server)
    try:
        rows = await conn.fetch(
            "INSERT INTO users (username, email, password_hash)"
            " SELECT $1 || i, $1 || i || '@example.com', '-' FROM generate_series(1, $2) i"
            " RETURNING id",
            f"{prefix}_{tag}_",
            n,
        )
    finally:
        await conn.close()
    settings = Settings(jwt_secret=jwt_secret(server))
    return [
        Racer(int(r["id"]), create_access_token(int(r["id"]), "CUSTOMER", settings)) for r in rows
    ]


@dataclass
class Hall:
    gid: str
    movie_gid: str
    seat_rows: list[list[int]]  # seat primary keys by row, in seat order

    @property
    def seat_count(self) -> int:
        return sum(len(r) for r in self.seat_rows)


def create_hall(server: Server, admin: str | None = None) -> Hall:
    """A cinema with one 300-seat hall (15 rows of 20, nothing blocked) and a movie."""
    admin = admin or _login(server, "admin")
    rows = [
        {"label": chr(ord("A") + r), "seats": SEATS_PER_ROW, "seatType": "STANDARD"}
        for r in range(ROWS)
    ]
    _cinema, hall, movie = create_venue(server, admin, "Race", rows, ROWS * SEATS_PER_ROW)
    hall_pk = parse_global_id(hall["id"])[1]
    seat_rows = _seat_rows(server, hall_pk)
    return Hall(hall["id"], movie, seat_rows)


def _seat_rows(server: Server, hall_pk: int) -> list[list[int]]:
    async def load() -> list[list[int]]:
        conn = await connect(server)
        try:
            rows = await conn.fetch(
                "SELECT id, row_label FROM seats WHERE hall_id = $1 ORDER BY y, x, id", hall_pk
            )
        finally:
            await conn.close()
        by_row: dict[str, list[int]] = {}
        for r in rows:
            by_row.setdefault(r["row_label"], []).append(int(r["id"]))
        return list(by_row.values())

    return asyncio.run(load())


def create_showtimes(server: Server, hall: Hall, n: int, admin: str | None = None) -> list[int]:
    """`n` showtimes of the hall, 3 hours apart from tomorrow on; their primary keys."""
    admin = admin or _login(server, "admin")
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    out = []
    for i in range(n):
        show = _call(
            server,
            "mutation($input: CreateShowtimeInput!) { createShowtime(input: $input) {"
            " showtime { id } errors { code message } } }",
            {
                "input": {
                    "movieId": hall.movie_gid,
                    "hallId": hall.gid,
                    "startsAt": (first + i * SHOWTIME_SPACING).isoformat(),
                    "language": "en",
                    "prices": [{"seatType": "STANDARD", "amount": "12.00", "currency": "EUR"}],
                }
            },
            admin,
        )["showtime"]
        out.append(parse_global_id(show["id"])[1])
    return out


def showtime_gid(pk: int) -> str:
    return to_global_id("Showtime", pk)


def seat_gid(pk: int) -> str:
    return to_global_id("Seat", pk)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
