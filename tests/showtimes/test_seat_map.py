"""The seat map: statuses from occupancy (expired holds read AVAILABLE), prices, heldByMe,
the packed form and availableSeatCount."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from db.booking.models import SeatHold, SeatOccupancy
from db.cinemas.models import Seat
from db.session import Database, capture_statements
from db.showtimes.models import Showtime
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import (
    create_bookable_showtime,
    create_cinema,
    create_hall,
    create_movie,
    create_showtime,
    create_user,
)
from tests.orders.flows import buy, checkout, hold

SEAT_MAP = """
query ($id: ID!) {
  showtime(id: $id) {
    availableSeatCount
    seatMap {
      sequence
      rows { label seats { id number type status price { amount currency } heldByMe } }
    }
    seatStatuses { statuses sequence layoutVersion availableSeatCount }
    hall { layout { version rows { label seats { id } } } }
  }
}
"""


async def occupy(
    db: Database,
    show: int,
    seat: int,
    status: str,
    *,
    user_id: int | None = None,
    expires_in: timedelta = timedelta(minutes=10),
) -> None:
    async with db.transaction() as session:
        hold_id = None
        expires = None
        if status == "HELD":
            assert user_id is not None
            expires = datetime.now(UTC) + expires_in
            hold_id = await session.scalar(
                insert(SeatHold)
                .values(user_id=user_id, showtime_id=show, expires_at=expires)
                .returning(SeatHold.id)
            )
        await session.execute(
            insert(SeatOccupancy).values(
                showtime_id=show, seat_id=seat, hold_id=hold_id, status=status, expires_at=expires
            )
        )


async def test_seat_map_statuses(gql: GraphQLClient, db: Database) -> None:
    hall = await create_hall(
        db, await create_cinema(db), rows=(("A", 3, "STANDARD"), ("B", 3, "VIP"))
    )
    show = await create_showtime(
        db,
        movie_id=await create_movie(db),
        hall_id=hall,
        prices={"STANDARD": "9.00", "VIP": "14.50"},
    )
    seats = [
        r.id
        for r in await db.fetch(
            select(Seat.id).where(Seat.hall_id == hall).order_by(Seat.y, Seat.x)
        )
    ]
    me = await create_user(db)
    other = await create_user(db)
    third = await create_user(db)  # one hold per user and showtime
    await occupy(db, show, seats[0], "SOLD")
    await occupy(db, show, seats[1], "HELD", user_id=other.id)
    await occupy(db, show, seats[2], "HELD", user_id=third.id, expires_in=timedelta(seconds=-5))
    await occupy(db, show, seats[3], "HELD", user_id=me.id)
    async with db.transaction() as session:
        await session.execute(update(Seat).where(Seat.id == seats[5]).values(is_blocked=True))
        await session.execute(update(Showtime).where(Showtime.id == show).values(seat_sequence=7))

    async def seat_map(token: str | None) -> dict[str, Any]:
        data = await gql.execute(SEAT_MAP, {"id": to_global_id("Showtime", show)}, token=token)
        result: dict[str, Any] = data["showtime"]
        return result

    mine = await seat_map(gql.token_for(me))
    assert mine["availableSeatCount"] == 2  # A3 (expired hold) and B2
    assert mine["seatMap"]["sequence"] == 7
    rows = mine["seatMap"]["rows"]
    assert [r["label"] for r in rows] == ["A", "B"]
    flat = [s for r in rows for s in r["seats"]]
    assert [s["id"] for s in flat] == [to_global_id("Seat", pk) for pk in seats]
    assert [s["status"] for s in flat] == [
        "SOLD",
        "HELD",
        "AVAILABLE",
        "HELD",
        "AVAILABLE",
        "BLOCKED",
    ]
    assert [s["heldByMe"] for s in flat] == [False, False, False, True, False, False]
    assert [s["number"] for s in flat] == [1, 2, 3, 1, 2, 3]
    assert flat[0]["price"] == {"amount": "9.00", "currency": "EUR"}
    assert flat[3]["type"] == "VIP"
    assert flat[3]["price"] == {"amount": "14.50", "currency": "EUR"}
    packed = mine["seatStatuses"]
    assert packed == {
        "statuses": "SHAMAB",
        "sequence": 7,
        "layoutVersion": mine["hall"]["layout"]["version"],
        "availableSeatCount": 2,
    }
    layout_ids = [s["id"] for r in mine["hall"]["layout"]["rows"] for s in r["seats"]]
    assert layout_ids == [s["id"] for s in flat]

    # Counted from the seat map's rows above; asked alone, by its own grouped statement.
    alone = await gql.execute(
        "query ($id: ID!) { showtime(id: $id) { availableSeatCount } }",
        {"id": to_global_id("Showtime", show)},
    )
    assert alone["showtime"]["availableSeatCount"] == 2

    anonymous = await seat_map(None)
    assert not any(s["heldByMe"] for r in anonymous["seatMap"]["rows"] for s in r["seats"])
    assert anonymous["seatStatuses"]["statuses"] == "SHAHAB"


async def test_packed_statuses_follow_the_layout_of_an_irregular_hall(
    gql: GraphQLClient, db: Database
) -> None:
    """The packed string is aggregated in SQL; it must follow `Hall.layout` order (rows in
    order of first appearance in drawing order, seats in drawing order) and carry the same
    layout version as `Hall.layout` even when labels and positions disagree: here row "C"
    is drawn first, row "A" twice (above and below "B"), and one row runs right to left."""
    hall = await create_hall(
        db,
        await create_cinema(db),
        rows=(("A", 3, "STANDARD"), ("B", 3, "VIP"), ("C", 3, "STANDARD"), ("D", 2, "VIP")),
    )
    show = await create_showtime(
        db, movie_id=await create_movie(db), hall_id=hall, prices={"STANDARD": "9", "VIP": "14"}
    )
    seats = [
        r.id
        for r in await db.fetch(
            select(Seat.id).where(Seat.hall_id == hall).order_by(Seat.y, Seat.x)
        )
    ]
    async with db.transaction() as session:
        for pk in seats[6:9]:  # row C moves to the top
            await session.execute(update(Seat).where(Seat.id == pk).values(y=-1))
        for i, pk in enumerate(seats[3:6]):  # row B runs right to left
            await session.execute(update(Seat).where(Seat.id == pk).values(x=10 - i))
        for i, pk in enumerate(seats[9:11]):  # the last row is labelled A too, below B
            await session.execute(
                update(Seat).where(Seat.id == pk).values(row_label="A", number=4 + i)
            )
    me = await create_user(db)
    await occupy(db, show, seats[4], "SOLD")
    await occupy(db, show, seats[7], "HELD", user_id=me.id)
    await occupy(db, show, seats[10], "HELD", user_id=(await create_user(db)).id)
    data = await gql.execute(
        SEAT_MAP, {"id": to_global_id("Showtime", show)}, token=gql.token_for(me)
    )
    showtime = data["showtime"]
    layout = showtime["hall"]["layout"]
    assert [r["label"] for r in layout["rows"]] == ["C", "A", "B"]
    typed = {s["id"]: s for r in showtime["seatMap"]["rows"] for s in r["seats"]}
    marks = {"AVAILABLE": "A", "HELD": "H", "SOLD": "S", "BLOCKED": "B"}
    expected = "".join(
        "M" if typed[s["id"]]["heldByMe"] else marks[typed[s["id"]]["status"]]
        for r in layout["rows"]
        for s in r["seats"]
    )
    assert expected == "AMA" + "AAAAH" + "ASA"
    assert showtime["seatStatuses"] == {
        "statuses": expected,
        "sequence": showtime["seatMap"]["sequence"],
        "layoutVersion": layout["version"],
        "availableSeatCount": expected.count("A"),
    }
    assert showtime["availableSeatCount"] == expected.count("A")


async def test_packed_statuses_agree_with_the_typed_map_through_a_sale(
    gql: GraphQLClient, db: Database
) -> None:
    """The packed string lays the live occupancies over the base the seat triggers keep
    (migration 0024_layout_order); the typed map joins every seat to its occupancy. Both
    must give the same statuses, for each viewer: seats held by the viewer's order awaiting
    payment (M), sold, held by others, a hold that expired, blocked, and sold seats blocked
    afterwards (sold wins)."""
    show = await create_bookable_showtime(db, rows=3, seats_per_row=5, blocked=(14,))
    seats = show.seat_ids
    viewer, buyer, holder, late = [await create_user(db) for _ in range(4)]
    pending = await checkout(
        gql, gql.token_for(viewer), await hold(gql, gql.token_for(viewer), show.id, seats[0:2])
    )
    assert pending["order"]["status"] == "PENDING_PAYMENT"
    assert (await buy(gql, gql.token_for(buyer), show.id, seats[2:5]))["status"] == "PAID"
    await hold(gql, gql.token_for(holder), show.id, [seats[7]])
    await hold(gql, gql.token_for(late), show.id, [seats[9], seats[10]])
    async with db.transaction() as session:
        past = datetime.now(UTC) - timedelta(seconds=5)
        await session.execute(
            update(SeatOccupancy).where(SeatOccupancy.seat_id == seats[9]).values(expires_at=past)
        )
        await session.execute(
            update(Seat).where(Seat.id.in_([seats[3], seats[11]])).values(is_blocked=True)
        )
    marks = {"AVAILABLE": "A", "HELD": "H", "SOLD": "S", "BLOCKED": "B"}
    seen = set()
    for token in (gql.token_for(viewer), gql.token_for(buyer), None):
        data = await gql.execute(SEAT_MAP, {"id": to_global_id("Showtime", show.id)}, token=token)
        showtime = data["showtime"]
        typed = {s["id"]: s for r in showtime["seatMap"]["rows"] for s in r["seats"]}
        expected = "".join(
            "M" if typed[s["id"]]["heldByMe"] else marks[typed[s["id"]]["status"]]
            for r in showtime["hall"]["layout"]["rows"]
            for s in r["seats"]
        )
        assert showtime["seatStatuses"]["statuses"] == expected
        assert showtime["seatStatuses"]["availableSeatCount"] == expected.count("A")
        assert showtime["availableSeatCount"] == expected.count("A")
        seen.add(expected)
    assert seen == {"MMSSS" + "AAHAA" + "HBAAB", "HHSSS" + "AAHAA" + "HBAAB"}


SEAT_MAP_FIELDS = {
    "packed": "seatStatuses { statuses sequence layoutVersion availableSeatCount }",
    "typed": (
        "availableSeatCount prices { seatType price { amount currency } } "
        "seatMap { sequence rows { label seats { id number type status price { amount } "
        "heldByMe } } }"
    ),
    "both": (
        "seatStatuses { statuses availableSeatCount } availableSeatCount "
        "seatMap { rows { label seats { id status heldByMe price { amount } } } }"
    ),
}
BY_ID = "query ($id: ID!) { showtime(id: $id) { id startsAt status %s } }"
BY_NODE = "query ($id: ID!) { node(id: $id) { ... on Showtime { id startsAt status %s } } }"
BY_FRAGMENT = "query ($id: ID!) { showtime(id: $id) { id ... on Showtime { %s } } }"


async def test_showtime_with_its_seat_map_is_one_statement(
    gql: GraphQLClient, db: Database
) -> None:
    """`showtime(id:)` that selects a seat map (typed, packed or both) reads the showtime,
    its seat states and (typed) its prices in one statement; `node(id:)` reads them through
    their loaders. Same answers, for the viewer whose seats they are and for anyone, and
    for a showtime that does not exist."""
    show = await create_bookable_showtime(db, rows=2, seats_per_row=4, blocked=(7,))
    me, other = await create_user(db), await create_user(db)
    await hold(gql, gql.token_for(me), show.id, show.seat_ids[0:2])
    await hold(gql, gql.token_for(other), show.id, show.seat_ids[4:5])
    found, missing = to_global_id("Showtime", show.id), to_global_id("Showtime", show.id + 1000)
    for form, fields in SEAT_MAP_FIELDS.items():
        for token in (gql.token_for(me), None):
            for target in (found, missing):
                with capture_statements() as log:
                    data = await gql.execute(BY_ID % fields, {"id": target}, token=token)
                by_node = await gql.execute(BY_NODE % fields, {"id": target}, token=token)
                assert data["showtime"] == by_node["node"], form
                statements = [s for s in log if "FROM users" not in s]  # the viewer's row
                assert len(statements) == 1, "\n\n".join(log)
                if target == missing:
                    assert data["showtime"] is None
                elif form != "typed":
                    statuses = data["showtime"]["seatStatuses"]["statuses"]
                    assert statuses == ("MM" if token else "HH") + "AAHAAB"
                if target != missing and form != "packed":
                    seats = [s for r in data["showtime"]["seatMap"]["rows"] for s in r["seats"]]
                    assert [s["heldByMe"] for s in seats][:3] == [bool(token), bool(token), False]
                    assert data["showtime"]["availableSeatCount"] == 4
        # Through a fragment too.
        with capture_statements() as log:
            data = await gql.execute(BY_FRAGMENT % fields, {"id": found})
        assert len(log) == 1, "\n\n".join(log)
        assert data["showtime"]["id"] == found
