"""N+1 guards: statement counts must not grow with the number of items returned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.session import Database, capture_statements
from graph.settings import Settings
from tests.conftest import GraphQLClient, _client
from tests.factories import create_cinema, create_hall, create_movie, create_showtime

CINEMAS = """
query ($first: Int) {
  cinemas(first: $first) {
    totalCount
    edges { node {
      name
      halls { name screenType seatCount }
      showtimes { totalCount edges { node { startsAt movie { title } availableSeatCount } } }
    } }
  }
}
"""
SHOWTIMES = """
query ($first: Int) {
  showtimes(first: $first) {
    totalCount
    edges { node {
      startsAt
      movie { title }
      hall { name }
      cinema { name city }
      availableSeatCount
      prices { seatType price { amount } }
    } }
  }
}
"""


async def build(db: Database, cinemas: int, shows_per_hall: int) -> None:
    movies = [await create_movie(db, duration_minutes=90) for _ in range(3)]
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    for c in range(cinemas):
        cinema = await create_cinema(db, name=f"Cinema {c:02d}")
        hall = await create_hall(db, cinema)
        for s in range(shows_per_hall):
            await create_showtime(
                db,
                movie_id=movies[(c + s) % 3],
                hall_id=hall,
                starts_at=start + timedelta(hours=2 * s),
            )


async def count(gql: GraphQLClient, query: str, first: int) -> tuple[int, int, list[str]]:
    with capture_statements() as log:
        data = await gql.execute(query, {"first": first})
    root = next(iter(data.values()))
    return len(log), len(root["edges"]), list(log)


async def test_cinemas_statement_count_is_flat(gql: GraphQLClient, db: Database) -> None:
    await build(db, cinemas=20, shows_per_hall=2)
    small, n_small, _ = await count(gql, CINEMAS, 2)
    large, n_large, log_large = await count(gql, CINEMAS, 20)
    assert (n_small, n_large) == (2, 20)
    assert small == large, "\n\n".join(log_large)
    # count, page, halls, seat counts (layout), showtime pages, movies, availability
    assert large <= 7, "\n\n".join(log_large)


async def test_showtimes_statement_count_is_flat(gql: GraphQLClient, db: Database) -> None:
    await build(db, cinemas=5, shows_per_hall=10)
    small, n_small, _ = await count(gql, SHOWTIMES, 5)
    large, n_large, log_large = await count(gql, SHOWTIMES, 50)
    assert (n_small, n_large) == (5, 50)
    assert small == large, "\n\n".join(log_large)
    # count, page, movies, halls, cinemas, availability, prices
    assert large <= 7, "\n\n".join(log_large)


SEAT_MAPS = """
query ($first: Int) {
  showtimes(first: $first) {
    edges { node {
      availableSeatCount
      seatMap { sequence rows { label seats { id status price { amount } heldByMe } } }
      seatStatuses { statuses sequence }
    } }
  }
}
"""


async def test_seat_maps_of_a_page_are_batched(db: Database, settings: Settings) -> None:
    await build(db, cinemas=5, shows_per_hall=10)
    # Fifty seat maps of halls as large as a hall may be (2,000 seats) are over the default
    # cost limit, as they should be; this test is about statements, so it lifts the limit.
    lifted = settings.model_copy(update={"max_query_cost": 10_000_000})
    async with _client(db, lifted) as http:  # type: ignore[arg-type]
        await _check_seat_maps(GraphQLClient(http, lifted), db)


async def _check_seat_maps(gql: GraphQLClient, db: Database) -> None:
    small, n_small, _ = await count(gql, SEAT_MAPS, 5)
    large, n_large, log_large = await count(gql, SEAT_MAPS, 50)
    assert (n_small, n_large) == (5, 50)
    assert small == large, "\n\n".join(log_large)
    # count, page, seat states, prices, packed statuses (aggregated in SQL); availability
    # is counted from the seat states the request reads anyway
    assert large == 5, "\n\n".join(log_large)
    assert not any("count(seats.id) FILTER" in s for s in log_large), "\n\n".join(log_large)
