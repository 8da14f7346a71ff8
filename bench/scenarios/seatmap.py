"""The seat map of a 300-seat showtime with about 30% of the seats taken: the typed
`seatMap` (one row object per seat) and the compact form (`seatStatuses`, one string, with
the hall layout cached by the client)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.scenario import BenchError, Prepared, Scenario
from bench.server import Server

DEMO_PASSWORD = "marquee-demo"  # db/demo/accounts.py
# Six demo users hold 10 seats each (the per-hold default); 30 more seats are blocked:
# 90 of 300 seats are not AVAILABLE.
HOLDERS = ("alice", "bob", "chloe", "dmitri", "manager", "admin")
ROWS = 15
SEATS_PER_ROW = 20
BLOCKED_PER_ROW = 2

TYPED = """
query SeatMap($id: ID!) {
  showtime(id: $id) {
    availableSeatCount
    seatMap {
      sequence
      rows { label seats { id number type status price { amount currency } heldByMe } }
    }
  }
}
"""
PACKED = """
query SeatStatuses($id: ID!) {
  showtime(id: $id) { seatStatuses { statuses sequence layoutVersion availableSeatCount } }
}
"""

_prepared: dict[str, Prepared] = {}


def _call(server: Server, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = server.graphql(query, variables, headers)
    if body.get("errors"):
        raise BenchError(f"setup failed: {body['errors']}")
    data = body["data"]
    payload = next(iter(data.values()))
    if isinstance(payload, dict) and payload.get("errors"):
        raise BenchError(f"setup failed: {payload['errors']}")
    return payload


def _login(server: Server, username: str) -> str:
    payload = _call(
        server,
        "mutation($input: LoginInput!) { login(input: $input) { accessToken errors { code } } }",
        {"input": {"login": username, "password": DEMO_PASSWORD}},
    )
    token: str = payload["accessToken"]
    return token


def create_venue(
    server: Server, admin: str, name: str, rows: list[dict[str, Any]], seats: int
) -> tuple[str, dict[str, Any], str]:
    """Through the staff API: a cinema, one hall laid out by `rows` (checked to hold
    `seats` seats) and a 120-minute movie. Returns their IDs and the hall."""
    tag = f"{random.randrange(16**6):06x}"
    cinema: str = _call(
        server,
        "mutation($input: CreateCinemaInput!) { createCinema(input: $input) {"
        " cinema { id } errors { code } } }",
        {
            "input": {
                "name": f"{name} {tag}",
                "address": f"1 {name} Street",
                "city": "Benchville",
                "latitude": 48.85,
                "longitude": 2.35,
                "timeZone": "Europe/Paris",
            }
        },
        admin,
    )["cinema"]["id"]
    hall: dict[str, Any] = _call(
        server,
        "mutation($input: CreateHallInput!) { createHall(input: $input) {"
        " hall { id seatCount } errors { code } } }",
        {"input": {"cinemaId": cinema, "name": f"{name} hall", "rows": rows}},
        admin,
    )["hall"]
    if hall["seatCount"] != seats:
        raise BenchError(f"hall has {hall['seatCount']} seats, not {seats}")
    movie: str = _call(
        server,
        "mutation($input: CreateMovieInput!) { createMovie(input: $input) {"
        " movie { id } errors { code } } }",
        {"input": {"title": f"{name} movie {tag}", "durationMinutes": 120}},
        admin,
    )["movie"]["id"]
    return cinema, hall, movie


def _setup(server: Server) -> Prepared:
    cached = _prepared.get(server.url)
    if cached is not None:
        return cached
    admin = _login(server, "admin")
    rows = [
        {
            "label": chr(ord("A") + r),
            "seats": SEATS_PER_ROW,
            "seatType": "VIP" if r >= ROWS - 2 else "STANDARD",
            "gaps": [5, 18],
            "blocked": [1 + (r % 10), 11 + (r % 10)][:BLOCKED_PER_ROW],
        }
        for r in range(ROWS)
    ]
    _cinema, hall, movie = create_venue(server, admin, "Bench", rows, ROWS * SEATS_PER_ROW)
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    show = _call(
        server,
        "mutation($input: CreateShowtimeInput!) { createShowtime(input: $input) {"
        " showtime { id seatMap { rows { seats { id status } } } } errors { code } } }",
        {
            "input": {
                "movieId": movie,
                "hallId": hall["id"],
                "startsAt": starts.isoformat(),
                "language": "en",
                "prices": [
                    {"seatType": "STANDARD", "amount": "12.00", "currency": "EUR"},
                    {"seatType": "VIP", "amount": "19.00", "currency": "EUR"},
                ],
            }
        },
        admin,
    )["showtime"]
    free = [
        s["id"] for r in show["seatMap"]["rows"] for s in r["seats"] if s["status"] == "AVAILABLE"
    ]
    random.Random(7).shuffle(free)
    for i, user in enumerate(HOLDERS):
        _call(
            server,
            "mutation($input: HoldSeatsInput!) { holdSeats(input: $input) {"
            " hold { id } errors { code message } } }",
            {"input": {"showtimeId": show["id"], "seatIds": free[10 * i : 10 * i + 10]}},
            _login(server, user),
        )
    prepared = Prepared(variables={"id": show["id"]}, state={"showtime": show["id"]})
    _prepared[server.url] = prepared
    return prepared


def _expect_typed(data: dict[str, Any]) -> None:
    show = data.get("showtime") or {}
    seats = [s for r in show.get("seatMap", {}).get("rows", []) for s in r["seats"]]
    if len(seats) != ROWS * SEATS_PER_ROW:
        raise BenchError(f"seat map has {len(seats)} seats")
    if show["availableSeatCount"] != 210:
        raise BenchError(f"expected 210 available seats, got {show['availableSeatCount']}")


def _expect_packed(data: dict[str, Any]) -> None:
    packed = (data.get("showtime") or {}).get("seatStatuses") or {}
    statuses = packed.get("statuses", "")
    if len(statuses) != ROWS * SEATS_PER_ROW or statuses.count("A") != 210:
        raise BenchError(f"unexpected packed statuses: {packed}")


SCENARIO = Scenario(
    name="seatmap",
    description="typed seatMap of a 300-seat showtime, 30% taken (60 held, 30 blocked)",
    query=TYPED,
    setup=_setup,
    expect=_expect_typed,
)
PACKED_SCENARIO = Scenario(
    name="seatmap_packed",
    description="compact seatStatuses of the same showtime (layout cached by the client)",
    query=PACKED,
    setup=_setup,
    expect=_expect_packed,
)
