"""Halls: compact and seat-by-seat layouts, bad layouts, layout changes with tickets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update

from db.booking.models import SeatOccupancy
from db.cinemas.layout import group_rows, layout_text, layout_version
from db.cinemas.models import Hall, Seat
from db.session import Database
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_cinema, create_hall, create_movie, create_showtime, create_user

CREATE_HALL = """
mutation ($input: CreateHallInput!) {
  createHall(input: $input) {
    hall {
      id name screenType seatCount cinema { name }
      layout {
        version width height seatCount
        rows { label seats { id number type x y isBlocked } }
      }
    }
    errors { code message field }
  }
}
"""
UPDATE_LAYOUT = """
mutation ($input: UpdateHallLayoutInput!) {
  updateHallLayout(input: $input) {
    hall { layout { version seatCount rows { label seats { id number type } } } }
    errors { code field seatIds }
  }
}
"""
UPDATE_HALL = """
mutation ($input: UpdateHallInput!) {
  updateHall(input: $input) { hall { name isActive cleaningMinutes } errors { code field } }
}
"""


async def staff(gql: GraphQLClient, db: Database) -> str:
    return gql.token_for(await create_user(db, role="ADMIN"))


async def create(gql: GraphQLClient, token: str, **input: Any) -> dict[str, Any]:
    data = await gql.execute(CREATE_HALL, {"input": input}, token=token)
    payload: dict[str, Any] = data["createHall"]
    return payload


async def test_compact_layout_with_gaps_and_types(gql: GraphQLClient, db: Database) -> None:
    token = await staff(gql, db)
    cinema = to_global_id("Cinema", await create_cinema(db, name="Rex"))
    payload = await create(
        gql,
        token,
        cinemaId=cinema,
        name="IMAX 1",
        screenType="IMAX",
        rows=[
            {"label": "A", "seats": 4, "seatType": "ACCESSIBLE", "gaps": [3]},
            {"label": "B", "seats": 5, "blocked": [5]},
            {"label": "C", "seats": 2, "seatType": "VIP"},
        ],
    )
    assert payload["errors"] == []
    hall = payload["hall"]
    assert hall["screenType"] == "IMAX"
    assert hall["cinema"] == {"name": "Rex"}
    assert hall["seatCount"] == 11
    layout = hall["layout"]
    assert (layout["width"], layout["height"], layout["seatCount"]) == (5, 3, 11)
    row_a = layout["rows"][0]
    assert row_a["label"] == "A"
    assert [(s["number"], s["x"], s["y"]) for s in row_a["seats"]] == [
        (1, 1, 1),
        (2, 2, 1),
        (3, 4, 1),  # position 3 is the aisle
        (4, 5, 1),
    ]
    assert {s["type"] for s in row_a["seats"]} == {"ACCESSIBLE"}
    assert [s["isBlocked"] for s in layout["rows"][1]["seats"]] == [False] * 4 + [True]
    assert [s["type"] for s in layout["rows"][2]["seats"]] == ["VIP", "VIP"]


async def test_seat_by_seat_layout(gql: GraphQLClient, db: Database) -> None:
    token = await staff(gql, db)
    cinema = to_global_id("Cinema", await create_cinema(db))
    seats = [
        {"rowLabel": "A", "number": 1, "x": 2, "y": 1, "seatType": "PREMIUM"},
        {"rowLabel": "A", "number": 2, "x": 3, "y": 1},
        {"rowLabel": "B", "number": 1, "x": 1, "y": 2, "isBlocked": True},
    ]
    payload = await create(gql, token, cinemaId=cinema, name="Small", seats=seats)
    assert payload["errors"] == []
    rows = payload["hall"]["layout"]["rows"]
    assert [(r["label"], [s["number"] for s in r["seats"]]) for r in rows] == [
        ("A", [1, 2]),
        ("B", [1]),
    ]


async def test_bad_layouts_are_coded_and_write_nothing(gql: GraphQLClient, db: Database) -> None:
    token = await staff(gql, db)
    cinema_pk = await create_cinema(db)
    cinema = to_global_id("Cinema", cinema_pk)
    cases: list[tuple[dict[str, Any], set[tuple[str, str]]]] = [
        ({"rows": []}, {("HALL_WITHOUT_SEATS", "seats")}),
        ({}, {("HALL_WITHOUT_SEATS", "seats")}),
        ({"seats": []}, {("HALL_WITHOUT_SEATS", "seats")}),
        (
            {"rows": [{"label": "A", "seats": 3}, {"label": "A", "seats": 0}]},
            {("VALIDATION_ERROR", "rows[1].label"), ("VALIDATION_ERROR", "rows[1].seats")},
        ),
        (
            {"rows": [{"label": "A", "seats": 3, "gaps": [9]}]},
            {("VALIDATION_ERROR", "rows[0].gaps")},
        ),
        (
            {
                "seats": [
                    {"rowLabel": "A", "number": 1, "x": 1, "y": 1},
                    {"rowLabel": "A", "number": 1, "x": 2, "y": 1},
                ]
            },
            {("VALIDATION_ERROR", "seats[1]")},
        ),
        (
            {
                "rows": [{"label": "A", "seats": 2}],
                "seats": [{"rowLabel": "A", "number": 1, "x": 1, "y": 1}],
            },
            {("VALIDATION_ERROR", "rows")},
        ),
        (
            {"rows": [{"label": "A", "seats": 2}], "screenType": "HOLOGRAM"},
            {("VALIDATION_ERROR", "screenType")},
        ),
    ]
    for extra, expected in cases:
        payload = await create(gql, token, cinemaId=cinema, name="H", **extra)
        assert payload["hall"] is None
        assert {(e["code"], e["field"]) for e in payload["errors"]} == expected, extra
    payload = await create(
        gql,
        token,
        cinemaId=to_global_id("Cinema", 999999),
        name="H",
        rows=[{"label": "A", "seats": 1}],
    )
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "cinemaId")]
    assert await db.scalar(select(func.count()).select_from(Hall)) == 0
    assert await db.scalar(select(func.count()).select_from(Seat)) == 0
    await create_hall(db, cinema_pk, name="Dup")
    payload = await create(
        gql, token, cinemaId=cinema, name="Dup", rows=[{"label": "A", "seats": 1}]
    )
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("ALREADY_EXISTS", "name")]


async def test_update_hall(gql: GraphQLClient, db: Database) -> None:
    token = await staff(gql, db)
    hall = await create_hall(db, await create_cinema(db))
    data = await gql.execute(
        UPDATE_HALL,
        {"input": {"id": to_global_id("Hall", hall), "isActive": False, "cleaningMinutes": 20}},
        token=token,
    )
    assert data["updateHall"]["errors"] == []
    assert data["updateHall"]["hall"]["isActive"] is False
    assert data["updateHall"]["hall"]["cleaningMinutes"] == 20


async def test_layout_change_keeps_seats_and_refuses_sold_ones(
    gql: GraphQLClient, db: Database
) -> None:
    token = await staff(gql, db)
    hall = await create_hall(
        db, await create_cinema(db), rows=(("A", 3, "STANDARD"), ("B", 3, "STANDARD"))
    )
    show = await create_showtime(db, movie_id=await create_movie(db), hall_id=hall)
    seats = {
        (r.row_label, r.number): r.id
        for r in await db.fetch(
            select(Seat.id, Seat.row_label, Seat.number).where(Seat.hall_id == hall)
        )
    }
    sold = seats[("B", 3)]
    async with db.transaction() as session:
        await session.execute(
            insert(SeatOccupancy).values(showtime_id=show, seat_id=sold, status="SOLD")
        )
    hall_id = to_global_id("Hall", hall)
    # Removing B3 (sold for a future showtime) is refused; so is retyping it.
    for rows in (
        [{"label": "A", "seats": 3}, {"label": "B", "seats": 2}],
        [{"label": "A", "seats": 3}, {"label": "B", "seats": 3, "seatType": "VIP"}],
    ):
        data = await gql.execute(
            UPDATE_LAYOUT, {"input": {"hallId": hall_id, "rows": rows}}, token=token
        )
        assert data["updateHallLayout"]["hall"] is None
        assert data["updateHallLayout"]["errors"] == [
            {"code": "SEAT_HAS_TICKETS", "field": "seats", "seatIds": [to_global_id("Seat", sold)]}
        ]
    assert await db.scalar(select(func.count()).select_from(Seat).where(Seat.hall_id == hall)) == 6
    # Removing row A seat 3, adding a VIP row C: B3 keeps its id.
    rows = [
        {"label": "A", "seats": 2},
        {"label": "B", "seats": 3},
        {"label": "C", "seats": 4, "seatType": "VIP"},
    ]
    data = await gql.execute(
        UPDATE_LAYOUT, {"input": {"hallId": hall_id, "rows": rows}}, token=token
    )
    payload = data["updateHallLayout"]
    assert payload["errors"] == []
    layout = payload["hall"]["layout"]
    assert layout["seatCount"] == 9
    row_b = layout["rows"][1]["seats"]
    assert row_b[2]["id"] == to_global_id("Seat", sold)
    assert [s["type"] for s in layout["rows"][2]["seats"]] == ["VIP"] * 4


Layout = tuple[Any, ...]
KEPT = (
    Hall.layout_version,
    Hall.layout_seat_ids,
    Hall.layout_row_labels,
    Hall.layout_numbers,
    Hall.layout_seat_types,
    Hall.layout_base,
)


async def _stored_and_computed(db: Database, hall: int) -> tuple[Layout, Layout]:
    """(version, then the seats' ids, row labels, numbers and types in layout order, then
    the base statuses) of a hall as the triggers keep them in `halls`, and as computed in
    Python from the hall's seats now (what `Hall.layout` answers: its version, its rows'
    seats in order)."""
    stored = (await db.fetch(select(*KEPT).where(Hall.id == hall)))[0]
    seats = await db.fetch(
        select(
            Seat.id, Seat.row_label, Seat.number, Seat.seat_type, Seat.x, Seat.y, Seat.is_blocked
        )
        .where(Seat.hall_id == hall)
        .order_by(Seat.y, Seat.x, Seat.id)
    )
    ordered = [s for _, row in group_rows(seats, lambda s: s.row_label) for s in row]
    computed = (
        layout_version(layout_text([tuple(s) for s in seats])),
        [s.id for s in ordered],
        [s.row_label for s in ordered],
        [s.number for s in ordered],
        [s.seat_type for s in ordered],
        "".join("B" if s.is_blocked else "A" for s in ordered),
    )
    return (stored[0], *(list(v) for v in stored[1:5]), stored[5]), computed


async def test_the_stored_layout_version_follows_every_write_of_seats(
    gql: GraphQLClient, db: Database
) -> None:
    """Migrations 0023_layout_versions and 0024_layout_order: triggers keep the layout's
    version and its seats in layout order on `halls` (what the seat maps read) equal to
    what the seats give, whoever writes them and how."""
    token = await staff(gql, db)
    cinema = await create_cinema(db)
    hall = await create_hall(db, cinema, rows=(("A", 3, "STANDARD"), ("B", 3, "STANDARD")))
    other = await create_hall(db, cinema)
    versions = [await _stored_and_computed(db, hall)]
    untouched = await _stored_and_computed(db, other)
    # The layout mutation (inserts, deletes and updates in one transaction).
    rows = [{"label": "A", "seats": 2}, {"label": "B", "seats": 4, "seatType": "VIP"}]
    data = await gql.execute(
        UPDATE_LAYOUT, {"input": {"hallId": to_global_id("Hall", hall), "rows": rows}}, token=token
    )
    assert data["updateHallLayout"]["errors"] == []
    versions.append(await _stored_and_computed(db, hall))
    assert data["updateHallLayout"]["hall"]["layout"]["version"] == versions[-1][0][0]
    # Plain SQL: one seat blocked, one moved, one renamed, then one deleted.
    first = await db.scalar(select(func.min(Seat.id)).where(Seat.hall_id == hall))
    async with db.transaction() as session:
        await session.execute(update(Seat).where(Seat.id == first).values(is_blocked=True))
    versions.append(await _stored_and_computed(db, hall))
    async with db.transaction() as session:
        await session.execute(update(Seat).where(Seat.id == first).values(x=40))
    versions.append(await _stored_and_computed(db, hall))
    async with db.transaction() as session:
        await session.execute(update(Seat).where(Seat.id == first).values(row_label="Z"))
    versions.append(await _stored_and_computed(db, hall))
    async with db.transaction() as session:
        await session.execute(delete(Seat).where(Seat.id == first))
    versions.append(await _stored_and_computed(db, hall))
    for stored, computed in versions:
        assert stored == computed
    assert len({stored[0] for stored, _ in versions}) == len(versions)  # each write changed it
    assert "B" not in versions[1][0][5]  # the blocked seat's mark in the stored base
    assert "B" in versions[2][0][5]
    assert await _stored_and_computed(db, other) == untouched
    # A hall's last seat gone: the version of no seats, as Python gives it.
    async with db.transaction() as session:
        await session.execute(delete(Seat).where(Seat.hall_id == hall))
    empty = (layout_version(""), [], [], [], [], "")
    assert await _stored_and_computed(db, hall) == (empty, empty)
