"""Cinema queries: cinemas (by city, words, distance), cinema, hall; node registration."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

import strawberry
from sqlalchemy import ColumnElement, func, or_, select

from db.cinemas.models import Cinema as CinemaRow
from db.cinemas.queries import distance_km
from graph.cinemas.inputs import CinemaFilter
from graph.cinemas.loaders import (
    CINEMA_COLUMNS,
    CinemaByIdLoader,
    HallByIdLoader,
    SeatByIdLoader,
)
from graph.cinemas.types import Cinema, Hall
from graph.context import Info
from graph.errors import bad_input
from graph.pagination import Connection, PageArgs, paginate
from graph.relay import query_id, register_node

MAX_RADIUS_KM = 20_000.0


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _validate_near(lat: float, lon: float, radius: float) -> None:
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise bad_input("Latitude is between -90 and 90.", "filter.near.latitude")
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise bad_input("Longitude is between -180 and 180.", "filter.near.longitude")
    if not (math.isfinite(radius) and 0 < radius <= MAX_RADIUS_KM):
        raise bad_input(
            f"The radius is more than 0 and at most {MAX_RADIUS_KM:g} km.",
            "filter.near.radiusKm",
        )


async def list_cinemas(
    info: Info, filter: CinemaFilter | None, args: PageArgs
) -> Connection[Cinema]:
    conditions: list[ColumnElement[bool]] = [CinemaRow.is_active.is_(True)]
    distance: ColumnElement[float] | None = None
    if filter is not None:
        if filter.city:
            conditions.append(func.lower(CinemaRow.city) == filter.city.strip().lower())
        if filter.search:
            if len(filter.search) > 100:
                raise bad_input("At most 100 characters.", "filter.search")
            for word in filter.search.split():
                pattern = _like(word)
                conditions.append(
                    or_(
                        CinemaRow.name.ilike(pattern),
                        CinemaRow.address.ilike(pattern),
                        CinemaRow.city.ilike(pattern),
                    )
                )
        if filter.near is not None:
            near = filter.near
            _validate_near(near.latitude, near.longitude, near.radius_km)
            distance = distance_km(near.latitude, near.longitude)
            conditions.append(distance <= near.radius_km)
    db = info.context.db

    async def count() -> int:
        return int(await db.scalar(select(func.count()).select_from(CinemaRow).where(*conditions)))

    async def fetch(offset: int, limit: int) -> Sequence[Cinema]:
        if distance is None:
            stmt = select(*CINEMA_COLUMNS).order_by(CinemaRow.name, CinemaRow.id)
        else:
            stmt = select(*CINEMA_COLUMNS, distance.label("distance_km")).order_by(
                distance, CinemaRow.id
            )
        rows = await db.fetch(stmt.where(*conditions).offset(offset).limit(limit))
        items = [Cinema.from_row(r, r.distance_km if distance is not None else None) for r in rows]
        loader = info.context.loader(CinemaByIdLoader)
        for c in items:
            if c.distance_km is None:
                loader.prime(c.pk, c)
        return items

    return await paginate(args, count, fetch)


@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "Active cinemas, by name; with `near`, those within the radius, nearest first, "
            "each with `distanceKm`."
        )
    )
    async def cinemas(
        self,
        info: Info,
        filter: Annotated[
            CinemaFilter | None, strawberry.argument(description="Conditions.")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
        last: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        before: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[Cinema]:
        return await list_cinemas(info, filter, PageArgs(first, after, last, before))

    @strawberry.field(description="A cinema by ID (inactive ones included).")
    async def cinema(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="ID.")]
    ) -> Cinema | None:
        return await info.context.loader(CinemaByIdLoader).load(query_id(id, "Cinema"))

    @strawberry.field(description="A hall by ID.")
    async def hall(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="ID.")]
    ) -> Hall | None:
        return await info.context.loader(HallByIdLoader).load(query_id(id, "Hall"))


async def _nodes(info: Info, loader: Any, pks: list[int]) -> list[Any]:
    return list(await info.context.loader(loader).load_many(pks))


async def _cinema_nodes(info: Info, pks: list[int]) -> list[Any]:
    return await _nodes(info, CinemaByIdLoader, pks)


async def _hall_nodes(info: Info, pks: list[int]) -> list[Any]:
    return await _nodes(info, HallByIdLoader, pks)


async def _seat_nodes(info: Info, pks: list[int]) -> list[Any]:
    return await _nodes(info, SeatByIdLoader, pks)


register_node("Cinema", _cinema_nodes)
register_node("Hall", _hall_nodes)
register_node("Seat", _seat_nodes)
