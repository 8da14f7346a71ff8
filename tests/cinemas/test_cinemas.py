"""Cinemas: staff mutations, bad input, listing by city, words and distance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from db.cinemas.models import Cinema
from db.session import Database
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import (
    create_cinema,
    create_hall,
    create_movie,
    create_showtime,
    create_user,
)

CREATE = """
mutation ($input: CreateCinemaInput!) {
  createCinema(input: $input) {
    cinema { id name city latitude longitude timeZone isActive distanceKm }
    errors { code message field }
  }
}
"""
UPDATE = """
mutation ($input: UpdateCinemaInput!) {
  updateCinema(input: $input) { cinema { id name isActive timeZone } errors { code field } }
}
"""
CINEMAS = """
query ($filter: CinemaFilter, $first: Int) {
  cinemas(filter: $filter, first: $first) {
    totalCount
    edges { node { id name city distanceKm } }
  }
}
"""
CINEMA_SHOWTIMES = """
query ($id: ID!, $from: Date, $to: Date) {
  cinema(id: $id) {
    name
    showtimes(from: $from, to: $to) { totalCount edges { node { id startsAt } } }
  }
}
"""

LYON = {
    "name": "Pathé Bellecour",
    "address": "79 Rue de la République",
    "city": "Lyon",
    "latitude": 45.7606,
    "longitude": 4.8344,
    "timeZone": "Europe/Paris",
}


async def staff_token(gql: GraphQLClient, db: Database) -> str:
    return gql.token_for(await create_user(db, role="MANAGER"))


async def count_cinemas(db: Database) -> int:
    return int(await db.scalar(select(func.count()).select_from(Cinema)))


async def test_create_and_update_cinema(gql: GraphQLClient, db: Database) -> None:
    token = await staff_token(gql, db)
    data = await gql.execute(CREATE, {"input": LYON}, token=token)
    payload = data["createCinema"]
    assert payload["errors"] == []
    assert payload["cinema"]["name"] == "Pathé Bellecour"
    assert payload["cinema"]["timeZone"] == "Europe/Paris"
    assert payload["cinema"]["distanceKm"] is None
    gid = payload["cinema"]["id"]
    data = await gql.execute(
        UPDATE, {"input": {"id": gid, "name": "Pathé B.", "isActive": False}}, token=token
    )
    assert data["updateCinema"] == {
        "cinema": {"id": gid, "name": "Pathé B.", "isActive": False, "timeZone": "Europe/Paris"},
        "errors": [],
    }


async def test_create_cinema_requires_staff(gql: GraphQLClient, db: Database) -> None:
    body = await gql.raw(CREATE, {"input": LYON})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    customer = gql.token_for(await create_user(db))
    body = await gql.raw(CREATE, {"input": LYON}, token=customer)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count_cinemas(db) == 0


async def test_bad_cinema_input_is_coded_and_writes_nothing(
    gql: GraphQLClient, db: Database
) -> None:
    token = await staff_token(gql, db)
    bad = {**LYON, "latitude": 91.0, "longitude": -181.0, "timeZone": "Europe/Atlantis"}
    data = await gql.execute(CREATE, {"input": bad}, token=token)
    errors = data["createCinema"]["errors"]
    assert {(e["code"], e["field"]) for e in errors} == {
        ("INVALID_COORDINATES", "latitude"),
        ("INVALID_COORDINATES", "longitude"),
        ("INVALID_TIME_ZONE", "timeZone"),
    }
    assert data["createCinema"]["cinema"] is None
    data = await gql.execute(CREATE, {"input": {**LYON, "name": "  "}}, token=token)
    assert [(e["code"], e["field"]) for e in data["createCinema"]["errors"]] == [
        ("VALIDATION_ERROR", "name")
    ]
    assert await count_cinemas(db) == 0
    pk = await create_cinema(db)
    data = await gql.execute(
        UPDATE,
        {"input": {"id": to_global_id("Cinema", pk), "timeZone": "Mars/Olympus"}},
        token=token,
    )
    assert data["updateCinema"]["errors"] == [{"code": "INVALID_TIME_ZONE", "field": "timeZone"}]


async def test_cinemas_by_city_and_search(gql: GraphQLClient, db: Database) -> None:
    await create_cinema(db, name="UGC Confluence", city="Lyon")
    await create_cinema(db, name="Pathé Bellecour", city="Lyon")
    await create_cinema(db, name="Le Grand Rex", city="Paris", time_zone="Europe/Paris")
    await create_cinema(db, name="Closed", city="Lyon", is_active=False)
    data = await gql.execute(CINEMAS, {"filter": {"city": "lyon"}})
    names = [e["node"]["name"] for e in data["cinemas"]["edges"]]
    assert names == ["Pathé Bellecour", "UGC Confluence"]
    assert data["cinemas"]["totalCount"] == 2
    data = await gql.execute(CINEMAS, {"filter": {"search": "grand"}})
    assert [e["node"]["name"] for e in data["cinemas"]["edges"]] == ["Le Grand Rex"]
    data = await gql.execute(CINEMAS, {"filter": {"search": "100%"}})
    assert data["cinemas"]["totalCount"] == 0


async def test_cinemas_near_a_point_by_distance(gql: GraphQLClient, db: Database) -> None:
    await create_cinema(db, name="Lyon", latitude=45.7640, longitude=4.8357)
    await create_cinema(db, name="Villeurbanne", latitude=45.7719, longitude=4.8902)
    await create_cinema(db, name="Paris", city="Paris", latitude=48.8566, longitude=2.3522)
    # From Lyon Part-Dieu station.
    near = {"latitude": 45.7606, "longitude": 4.8597, "radiusKm": 10}
    data = await gql.execute(CINEMAS, {"filter": {"near": near}})
    nodes = [e["node"] for e in data["cinemas"]["edges"]]
    assert [n["name"] for n in nodes] == ["Lyon", "Villeurbanne"]
    assert 1.5 < nodes[0]["distanceKm"] < 2.5
    assert 2.5 < nodes[1]["distanceKm"] < 3.5
    data = await gql.execute(CINEMAS, {"filter": {"near": {**near, "radiusKm": 1000}}})
    nodes = [e["node"] for e in data["cinemas"]["edges"]]
    assert [n["name"] for n in nodes] == ["Lyon", "Villeurbanne", "Paris"]
    assert 385 < nodes[2]["distanceKm"] < 400  # Lyon-Paris great circle is about 392 km


async def test_bad_near_is_bad_user_input(gql: GraphQLClient, db: Database) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"latitude": 95, "longitude": 0, "radiusKm": 5}, "filter.near.latitude"),
        ({"latitude": 0, "longitude": 200, "radiusKm": 5}, "filter.near.longitude"),
        ({"latitude": 0, "longitude": 0, "radiusKm": -1}, "filter.near.radiusKm"),
    ]
    for near, field in cases:
        body = await gql.raw(CINEMAS, {"filter": {"near": near}})
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}


async def test_cinema_showtimes_use_the_cinema_time_zone(gql: GraphQLClient, db: Database) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    cinema = await create_cinema(
        db, name="Tokyo", city="Tokyo", latitude=35.68, longitude=139.76, time_zone="Asia/Tokyo"
    )
    hall = await create_hall(db, cinema)
    movie = await create_movie(db, duration_minutes=90)
    day = datetime.now(tokyo).date() + timedelta(days=3)
    # 00:30 in Tokyo is still the previous day in UTC.
    local = datetime(day.year, day.month, day.day, 0, 30, tzinfo=tokyo)
    late = datetime(day.year, day.month, day.day, 22, 0, tzinfo=tokyo)
    first = await create_showtime(db, movie_id=movie, hall_id=hall, starts_at=local)
    second = await create_showtime(db, movie_id=movie, hall_id=hall, starts_at=late)
    assert local.astimezone(UTC).date() == day - timedelta(days=1)

    async def ids(start: date, end: date) -> list[str]:
        data = await gql.execute(
            CINEMA_SHOWTIMES,
            {"id": to_global_id("Cinema", cinema), "from": str(start), "to": str(end)},
        )
        return [e["node"]["id"] for e in data["cinema"]["showtimes"]["edges"]]

    assert await ids(day, day) == [
        to_global_id("Showtime", first),
        to_global_id("Showtime", second),
    ]
    assert await ids(day - timedelta(days=1), day - timedelta(days=1)) == []
    # Default: a week from the cinema's today.
    data = await gql.execute(CINEMA_SHOWTIMES, {"id": to_global_id("Cinema", cinema)})
    assert data["cinema"]["showtimes"]["totalCount"] == 2
    body = await gql.raw(
        CINEMA_SHOWTIMES,
        {"id": to_global_id("Cinema", cinema), "from": str(day), "to": str(day - timedelta(1))},
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
