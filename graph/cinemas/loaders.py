"""Loaders of cinemas, halls, seats and layouts, batched per request."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from db.cinemas.models import Cinema as CinemaRow
from db.cinemas.models import Hall as HallRow
from db.cinemas.models import Seat as SeatRow
from graph.cinemas.types import Cinema, Hall, HallLayout, LayoutRow, Seat
from graph.loaders import ContextLoader

CINEMA_COLUMNS = (
    CinemaRow.id,
    CinemaRow.name,
    CinemaRow.address,
    CinemaRow.city,
    CinemaRow.phone,
    CinemaRow.email,
    CinemaRow.latitude,
    CinemaRow.longitude,
    CinemaRow.time_zone,
    CinemaRow.opens_at,
    CinemaRow.closes_at,
    CinemaRow.description,
    CinemaRow.is_active,
)
HALL_COLUMNS = (
    HallRow.id,
    HallRow.cinema_id,
    HallRow.name,
    HallRow.screen_type,
    HallRow.sound_system,
    HallRow.cleaning_minutes,
    HallRow.is_active,
)
SEAT_COLUMNS = (
    SeatRow.id,
    SeatRow.hall_id,
    SeatRow.row_label,
    SeatRow.number,
    SeatRow.seat_type,
    SeatRow.x,
    SeatRow.y,
    SeatRow.is_blocked,
)
# Drawing order: the order of Hall.layout and of packed seat statuses.
SEAT_ORDER = (SeatRow.y, SeatRow.x, SeatRow.id)


class CinemaByIdLoader(ContextLoader[int, Cinema | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Cinema | None]:
        rows = await self.context.db.fetch(select(*CINEMA_COLUMNS).where(CinemaRow.id.in_(keys)))
        found = {row.id: Cinema.from_row(row) for row in rows}
        return [found.get(k) for k in keys]


class HallByIdLoader(ContextLoader[int, Hall | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Hall | None]:
        rows = await self.context.db.fetch(select(*HALL_COLUMNS).where(HallRow.id.in_(keys)))
        found = {row.id: Hall.from_row(row) for row in rows}
        return [found.get(k) for k in keys]


class HallsByCinemaLoader(ContextLoader[int, list[Hall]]):
    """A cinema's halls by name."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[Hall]]:
        rows = await self.context.db.fetch(
            select(*HALL_COLUMNS)
            .where(HallRow.cinema_id.in_(keys))
            .order_by(HallRow.name, HallRow.id)
        )
        found: dict[int, list[Hall]] = defaultdict(list)
        for row in rows:
            found[row.cinema_id].append(Hall.from_row(row))
        return [found.get(k, []) for k in keys]


class SeatByIdLoader(ContextLoader[int, Seat | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Seat | None]:
        rows = await self.context.db.fetch(select(*SEAT_COLUMNS).where(SeatRow.id.in_(keys)))
        found = {row.id: Seat.from_row(row) for row in rows}
        return [found.get(k) for k in keys]


def group_rows(items: Sequence[Any], label: Any) -> list[tuple[str, list[Any]]]:
    """Group seats (already in drawing order) by row label, rows in order of appearance.
    The seat map, the layout and the packed statuses all use this one grouping."""
    rows: dict[str, list[Any]] = {}
    for item in items:
        rows.setdefault(label(item), []).append(item)
    return list(rows.items())


def layout_version(seats: Sequence[tuple[int, str, int, str, int, int, bool]]) -> str:
    """A hash of (id, row, number, type, x, y, blocked) of every seat in drawing order."""
    digest = hashlib.blake2b(digest_size=8)
    for pk, row, number, kind, x, y, blocked in seats:
        digest.update(f"{pk},{row},{number},{kind},{x},{y},{int(blocked)};".encode())
    return digest.hexdigest()


def build_layout(seats: list[Seat]) -> HallLayout:
    return HallLayout(
        version=layout_version(
            [(s.pk, s.row_label, s.number, s.type.value, s.x, s.y, s.is_blocked) for s in seats]
        ),
        width=max((s.x for s in seats), default=0),
        height=max((s.y for s in seats), default=0),
        seat_count=len(seats),
        rows=[
            LayoutRow(label=label, seats=row)
            for label, row in group_rows(seats, lambda s: s.row_label)
        ],
    )


class HallLayoutByHallLoader(ContextLoader[int, HallLayout]):
    async def batch_load_fn(self, keys: list[int]) -> list[HallLayout]:
        rows = await self.context.db.fetch(
            select(*SEAT_COLUMNS).where(SeatRow.hall_id.in_(keys)).order_by(*SEAT_ORDER)
        )
        found: dict[int, list[Seat]] = defaultdict(list)
        for row in rows:
            found[row.hall_id].append(Seat.from_row(row))
        return [build_layout(found.get(k, [])) for k in keys]
