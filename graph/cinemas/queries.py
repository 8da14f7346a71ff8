"""Cinema queries: cinemas (by city, words, distance), cinema, hall; node registration."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

import strawberry

from db.cinemas import queries
from db.cinemas.queries import CinemaSearch, Near
from graph.cinemas.inputs import CinemaFilter
from graph.cinemas.loaders import CinemaByIdLoader, HallByIdLoader, SeatByIdLoader
from graph.cinemas.types import Cinema, Hall
from graph.context import Info
from graph.errors import bad_input
from graph.pagination import Connection, PageArgs, paginate
from graph.relay import query_id, register_node

MAX_RADIUS_KM = 20_000.0


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


def search_from_filter(filter: CinemaFilter | None) -> CinemaSearch:
    """Validate a CinemaFilter (bad values are BAD_USER_INPUT errors)."""
    if filter is None:
        return CinemaSearch()
    words: tuple[str, ...] = ()
    if filter.search:
        if len(filter.search) > 100:
            raise bad_input("At most 100 characters.", "filter.search")
        words = tuple(filter.search.split())
    near = None
    if filter.near is not None:
        n = filter.near
        _validate_near(n.latitude, n.longitude, n.radius_km)
        near = Near(latitude=n.latitude, longitude=n.longitude, radius_km=n.radius_km)
    return CinemaSearch(city=filter.city or None, words=words, near=near)


async def list_cinemas(
    info: Info, filter: CinemaFilter | None, args: PageArgs
) -> Connection[Cinema]:
    search = search_from_filter(filter)
    db = info.context.read_db  # cinemas may be a moment old (docs/scaling.md)

    async def count() -> int:
        return await queries.count_cinemas(db, search)

    async def fetch(offset: int, limit: int) -> Sequence[Cinema]:
        rows = await queries.list_cinemas(db, search, offset, limit)
        near = search.near is not None
        items = [Cinema.from_row(r, r.distance_km if near else None) for r in rows]
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
