"""A Python client of Marquee built on `gql`: registers, pages through the movies, opens a
showtime, watches its seats over WebSocket (graphql-transport-ws), holds, checks out, pays,
lists its tickets and cancels, asserting what it sees at each step (docs/clients.md).

    python -m tests.clients.gql_client http://127.0.0.1:8000 [expected movie count]

Exits 0 when every step saw what it expected; otherwise prints the step and the mismatch and
exits 1."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from graphql import DocumentNode, parse

DOCUMENT: DocumentNode = parse((Path(__file__).parent / "operations.graphql").read_text())
PAGE_SIZE = 4
SEATS_TO_BUY = 2
EVENT_WAIT = 10.0


class Mismatch(Exception):
    """What the client saw differs from what it expected."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Mismatch(message)


def request(operation: str, **variables: Any) -> GraphQLRequest:
    return GraphQLRequest(DOCUMENT, operation_name=operation, variable_values=variables)


class SeatEvents:
    """The events of a `seatAvailability` subscription, read in the background."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.last_sequence: int | None = None

    async def next(self) -> dict[str, Any]:
        event = await asyncio.wait_for(self.queue.get(), EVENT_WAIT)
        if self.last_sequence is not None:
            check(
                event["sequence"] == self.last_sequence + 1,
                f"event sequence {event['sequence']} after {self.last_sequence}",
            )
        self.last_sequence = event["sequence"]
        return event

    async def until(self, seat_ids: list[str], status: str) -> dict[str, str]:
        """Read events until every one of `seat_ids` has been reported with `status`."""
        seen: dict[str, str] = {}
        while any(seen.get(seat) != status for seat in seat_ids):
            try:
                event = await self.next()
            except TimeoutError:
                raise Mismatch(f"seats {seat_ids} never became {status}; saw {seen}") from None
            check(not event["snapshot"], "a second snapshot arrived")
            seen.update({change["seatId"]: change["status"] for change in event["seats"]})
        return seen


@contextlib.asynccontextmanager
async def subscribe(ws: Client, showtime_id: str) -> AsyncIterator[SeatEvents]:
    events = SeatEvents()

    async def read() -> None:
        async with ws as session:
            subscription = session.subscribe(request("SeatAvailability", showtimeId=showtime_id))
            async for result in subscription:
                events.queue.put_nowait(result["seatAvailability"])

    task = asyncio.create_task(read())
    try:
        yield events
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def browse(http: Any, expected: int | None) -> list[dict[str, Any]]:
    """Every movie, page by page along `endCursor`, with no duplicates."""
    movies: list[dict[str, Any]] = []
    seen: set[str] = set()
    after: str | None = None
    pages = 0
    while True:
        data = await http.execute(request("Movies", first=PAGE_SIZE, after=after))
        connection = data["movies"]
        pages += 1
        check(len(connection["edges"]) <= PAGE_SIZE, f"page {pages} is larger than first")
        for edge in connection["edges"]:
            movie = edge["node"]
            check(movie["id"] not in seen, f"movie {movie['id']} came twice (page {pages})")
            seen.add(movie["id"])
            movies.append(movie)
        info = connection["pageInfo"]
        if not info["hasNextPage"]:
            break
        check(info["endCursor"] is not None, "hasNextPage without an endCursor")
        after = info["endCursor"]
    check(
        len(movies) == connection["totalCount"],
        f"saw {len(movies)} movies, totalCount says {connection['totalCount']}",
    )
    if expected is not None:
        check(len(movies) == expected, f"saw {len(movies)} movies, expected {expected}")
    check(pages > 1, "the catalog fit on one page: paging was not exercised")
    return movies


async def run(base_url: str, expected_movies: int | None) -> None:
    endpoint = f"{base_url.rstrip('/')}/graphql"
    anonymous = Client(transport=HTTPXAsyncTransport(url=endpoint, timeout=30))
    name = f"gql_{secrets.token_hex(4)}"
    async with anonymous as session:
        data = await session.execute(
            request(
                "Register",
                input={
                    "username": name,
                    "email": f"{name}@example.com",
                    "password": "a long enough password",
                    "fullName": "Gql Client",
                },
            )
        )
    registered = data["register"]
    check(registered["errors"] == [], f"register failed: {registered['errors']}")
    check(registered["user"]["username"] == name, "register returned another user")
    token = registered["accessToken"]
    print(f"registered {name}")

    headers = {"Authorization": f"Bearer {token}"}
    http_client = Client(transport=HTTPXAsyncTransport(url=endpoint, headers=headers, timeout=30))
    ws_client = Client(
        transport=WebsocketsTransport(
            url=endpoint.replace("http", "ws", 1),
            init_payload=headers,
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
    )
    async with http_client as http:
        movies = await browse(http, expected_movies)
        print(f"browsed {len(movies)} movies")
        showtimes = [
            edge["node"]
            for movie in movies
            for edge in movie["showtimes"]["edges"]
            if edge["node"]["availableSeatCount"] >= SEATS_TO_BUY
        ]
        check(bool(showtimes), "no movie has a showtime with free seats")
        showtime = (await http.execute(request("Showtime", id=showtimes[0]["id"])))["showtime"]
        seats = [seat for row in showtime["seatMap"]["rows"] for seat in row["seats"]]
        free = [seat["id"] for seat in seats if seat["status"] == "AVAILABLE"]
        check(len(free) == showtime["availableSeatCount"], "seat map and count disagree")
        chosen = free[:SEATS_TO_BUY]
        print(f"opened showtime {showtime['id']}: {len(seats)} seats, {len(free)} free")

        async with subscribe(ws_client, showtime["id"]) as events:
            snapshot = await events.next()
            check(snapshot["snapshot"] is True, "the first event is not a snapshot")
            statuses = {change["seatId"]: change["status"] for change in snapshot["seats"]}
            check(
                statuses == {seat["id"]: seat["status"] for seat in seats},
                "the snapshot differs from the seat map",
            )
            print(f"snapshot at sequence {snapshot['sequence']}")

            held = (
                await http.execute(
                    request("HoldSeats", input={"showtimeId": showtime["id"], "seatIds": chosen})
                )
            )["holdSeats"]
            check(held["errors"] == [], f"holdSeats failed: {held['errors']}")
            check(
                sorted(seat["id"] for seat in held["hold"]["seats"]) == sorted(chosen),
                "the hold has other seats",
            )
            await events.until(chosen, "HELD")
            print("own hold arrived as HELD")

            checkout = (
                await http.execute(
                    request(
                        "Checkout",
                        input={
                            "holdId": held["hold"]["id"],
                            "idempotencyKey": secrets.token_hex(8),
                        },
                    )
                )
            )["checkout"]
            check(checkout["errors"] == [], f"checkout failed: {checkout['errors']}")
            order = checkout["order"]
            check(order["status"] == "PENDING_PAYMENT", f"checkout gave {order['status']}")

            paid = (
                await http.execute(
                    request("PayOrder", input={"orderId": order["id"], "paymentToken": "tok_visa"})
                )
            )["payOrder"]
            check(paid["errors"] == [], f"payOrder failed: {paid['errors']}")
            check(paid["order"]["status"] == "PAID", f"payOrder gave {paid['order']['status']}")
            await events.until(chosen, "SOLD")
            print(f"paid order {order['number']} ({order['total']['amount']})")

            me = (await http.execute(request("MyTickets")))["me"]
            tickets = [
                edge["node"]
                for edge in me["tickets"]["edges"]
                if edge["node"]["order"]["id"] == order["id"]
            ]
            check(
                sorted(ticket["seat"]["id"] for ticket in tickets) == sorted(chosen),
                f"tickets for {[t['seat']['id'] for t in tickets]}, bought {chosen}",
            )
            check(all(t["status"] == "VALID" for t in tickets), "a new ticket is not VALID")
            check(
                all(t["showtime"]["id"] == showtime["id"] for t in tickets),
                "a ticket is for another showtime",
            )
            print(f"tickets {[t['bookingReference'] for t in tickets]}")

            cancelled = (
                await http.execute(request("CancelOrder", input={"orderId": order["id"]}))
            )["cancelOrder"]
            check(cancelled["errors"] == [], f"cancelOrder failed: {cancelled['errors']}")
            check(
                cancelled["order"]["status"] == "REFUNDED",
                f"cancelling a paid order gave {cancelled['order']['status']}",
            )
            await events.until(chosen, "AVAILABLE")
            print("seats came back AVAILABLE")

        me = (await http.execute(request("MyTickets")))["me"]
        statuses_after = {
            edge["node"]["status"]
            for edge in me["tickets"]["edges"]
            if edge["node"]["order"]["id"] == order["id"]
        }
        check(statuses_after == {"CANCELLED"}, f"tickets after the refund: {statuses_after}")


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    expected = int(sys.argv[2]) if len(sys.argv) > 2 else None
    try:
        asyncio.run(run(sys.argv[1], expected))
    except Mismatch as exc:
        print(f"gql client: MISMATCH: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a transport or GraphQL error: say which, and fail
        print(f"gql client: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print("gql client: every step as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
