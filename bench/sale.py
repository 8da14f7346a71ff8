"""Shared by the sale scenarios (`checkout_pay`, `me_orders`): the purchase as a customer's
client sends it (holdSeats, checkout, payOrder with `tok_visa`, each with its own
idempotency key) over one keep-alive connection, a hall of any size, and the SQL check that
nothing was sold twice."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from bench import booking
from bench.scenario import BenchError
from bench.scenarios.holds import HOLD as HOLD
from bench.scenarios.holds import HttpConnection
from bench.scenarios.seatmap import _login, create_venue
from graph.relay import parse_global_id

if TYPE_CHECKING:
    from bench.server import Server

CHECKOUT = (
    "mutation Checkout($i: CheckoutInput!) { checkout(input: $i) {"
    " order { id number status total { amount } } errors { code message field } } }"
)
PAY = (
    "mutation Pay($i: PayOrderInput!) { payOrder(input: $i) {"
    " order { id number status tickets { bookingReference seat { id } } }"
    " errors { code message field } } }"
)
PAYMENT_TOKEN = "tok_visa"
STEPS = ("hold", "checkout", "pay")


@dataclass
class Purchase:
    """What one attempt came to: `failed_at` is None when the order was paid, else the step
    that failed ("hold", "checkout", "pay") with the code (an error code of the payload, or
    "HTTP 500", "GraphQL error", ... for an answer that is not a payload)."""

    showtime: int
    seats: list[int]
    failed_at: str | None = None
    code: str | None = None
    detail: str = ""
    unavailable: list[int] = field(default_factory=list)  # SEAT_UNAVAILABLE: seats named
    order_pk: int | None = None
    number: str | None = None
    ticket_seats: list[int] = field(default_factory=list)  # the paid order's tickets' seats
    seconds: dict[str, float] = field(default_factory=dict)  # latency of each step answered
    started: float = 0.0
    ended: float = 0.0

    @property
    def paid(self) -> bool:
        return self.failed_at is None

    @property
    def expected(self) -> bool:
        """A paid order, or a hold lost to another customer: anything else is a fault."""
        return self.paid or (self.failed_at == "hold" and self.code == "SEAT_UNAVAILABLE")


class Customer:
    """One signed-in customer's client on one keep-alive connection."""

    def __init__(self, url: str, token: str, cart: dict[str, Any] | None = None) -> None:
        # `cart`: more of the checkout input (products, promoCode), the same every time.
        self.cart = cart or {}
        parts = urlsplit(url)
        self.head = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
        ).encode()

    async def call(
        self, conn: HttpConnection, query: str, variables: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, str, str]:
        """The mutation's payload, or (None, code, detail) for an answer that is not one."""
        body = orjson.dumps({"query": query, "variables": variables})
        status, answer = await conn.post(self.head, body)
        if status != 200:
            return None, f"HTTP {status}", answer[:300].decode(errors="replace")
        doc = orjson.loads(answer)
        data = doc.get("data") or {}
        payload = next(iter(data.values()), None) if data else None
        if doc.get("errors") or payload is None:
            return None, "GraphQL error", str(doc.get("errors"))[:300]
        return payload, "", ""

    async def buy(self, conn: HttpConnection, showtime: int, seats: list[int]) -> Purchase:
        """Hold the seats, check the hold out, pay the order with tok_visa."""
        out = Purchase(showtime, seats, started=time.perf_counter())
        try:
            await self._buy(conn, out)
        finally:
            out.ended = time.perf_counter()
        return out

    async def _buy(self, conn: HttpConnection, out: Purchase) -> None:
        wanted = [booking.seat_gid(s) for s in out.seats]
        t = time.perf_counter()
        held, code, detail = await self.call(
            conn,
            HOLD,
            {"i": {"showtimeId": booking.showtime_gid(out.showtime), "seatIds": wanted}},
        )
        out.seconds["hold"] = time.perf_counter() - t
        if held is None or held["hold"] is None:
            out.failed_at = "hold"
            if held is not None:
                errors = held["errors"] or [{"code": "no hold, no error"}]
                code, detail = errors[0]["code"], str(errors)[:300]
                if code == "SEAT_UNAVAILABLE":
                    out.unavailable = [parse_global_id(g)[1] for g in errors[0]["seatIds"] or []]
                    if not out.unavailable or not set(errors[0]["seatIds"]) <= set(wanted):
                        code = "SEAT_UNAVAILABLE naming other seats"
            out.code, out.detail = code, detail
            return
        t = time.perf_counter()
        checked, code, detail = await self.call(
            conn,
            CHECKOUT,
            {
                "i": {
                    "holdId": held["hold"]["id"],
                    "idempotencyKey": uuid.uuid4().hex,
                    **self.cart,
                }
            },
        )
        out.seconds["checkout"] = time.perf_counter() - t
        if checked is None or checked["errors"] or checked["order"] is None:
            out.failed_at = "checkout"
            out.code, out.detail = _payload_failure(checked, code, detail)
            return
        order = checked["order"]
        t = time.perf_counter()
        paid, code, detail = await self.call(
            conn,
            PAY,
            {
                "i": {
                    "orderId": order["id"],
                    "paymentToken": PAYMENT_TOKEN,
                    "idempotencyKey": uuid.uuid4().hex,
                }
            },
        )
        out.seconds["pay"] = time.perf_counter() - t
        if paid is None or paid["errors"] or paid["order"] is None:
            out.failed_at = "pay"
            out.code, out.detail = _payload_failure(paid, code, detail)
            return
        result = paid["order"]
        out.order_pk = parse_global_id(result["id"])[1]
        out.number = result["number"]
        out.ticket_seats = sorted(parse_global_id(t["seat"]["id"])[1] for t in result["tickets"])
        if result["status"] != "PAID" or out.ticket_seats != sorted(out.seats):
            out.failed_at = "pay"
            out.code = f"answered {result['status']} with tickets for other seats"
            out.detail = str(result)[:300]


PENDING_EMAILS = "SELECT count(*) FROM outbox_messages WHERE status = 'PENDING'"


async def pending_emails(server: Server) -> int:
    """Messages in the outbox not sent yet (the order confirmations of a sale)."""
    conn = await booking.connect(server)
    try:
        return int(await conn.fetchval(PENDING_EMAILS))
    finally:
        await conn.close()


def drain_emails(server: Server, timeout: float = 180.0) -> tuple[int, float]:
    """Wait until the server's outbox senders have sent every message: (messages pending
    when called, seconds it took). Raises BenchError past `timeout`."""
    started = time.monotonic()
    first = pending = asyncio.run(pending_emails(server))
    while pending:
        if time.monotonic() - started > timeout:
            raise BenchError(f"{pending} of {first} e-mails still unsent after {timeout:.0f} s")
        time.sleep(0.2)
        pending = asyncio.run(pending_emails(server))
    return first, time.monotonic() - started


def statement_shape(statement: str, width: int = 150) -> str:
    """A statement's text on one line with its IN lists and VALUES rows folded (so one
    statement read for 2 or for 50 ids has one shape), cut at `width` characters."""
    text = re.sub(r"\s+", " ", statement)
    text = re.sub(r"(\$\d+::\w+(\[\])?)(, \$\d+::\w+(\[\])?)+", r"\1, ...", text)
    text = re.sub(r"(\([^()]*\))(, \([^()]*\))+", r"\1, ...", text)
    return text[:width]


def _payload_failure(payload: dict[str, Any] | None, code: str, detail: str) -> tuple[str, str]:
    if payload is None:
        return code, detail
    errors = payload.get("errors") or [{"code": "no order, no error"}]
    return str(errors[0]["code"]), str(errors)[:300]


async def open_connection(url: str) -> HttpConnection:
    return await HttpConnection.open(url)


def app_settings(server: Server) -> Any:
    """Settings for the server's app run in this process (statement counts, profiles): the
    server's JWT secret and data directory (where its development keys are)."""
    from graph.settings import Settings

    if server.data_dir is None:
        raise BenchError("this needs the server's data directory (not available with --url)")
    return Settings(jwt_secret=booking.jwt_secret(server), data_dir=server.data_dir)


def create_hall(server: Server, rows: int, seats_per_row: int, admin: str | None = None) -> Any:
    """A cinema with one hall of `rows` x `seats_per_row` standard seats (nothing blocked)
    and a movie, through the staff API (`booking.create_hall` makes the 300-seat one)."""
    if rows == booking.ROWS and seats_per_row == booking.SEATS_PER_ROW:
        return booking.create_hall(server, admin)
    admin = admin or _login(server, "admin")
    layout = [
        {"label": _row_label(r), "seats": seats_per_row, "seatType": "STANDARD"}
        for r in range(rows)
    ]
    _cinema, hall, movie = create_venue(server, admin, "Sale", layout, rows * seats_per_row)
    hall_pk = parse_global_id(hall["id"])[1]
    return booking.Hall(hall["id"], movie, booking._seat_rows(server, hall_pk))


def _row_label(r: int) -> str:
    return chr(ord("A") + r) if r < 26 else chr(ord("A") + r // 26 - 1) + chr(ord("A") + r % 26)


# The double-sale check. The first statement is the issue's, over the whole database.
DOUBLE_SOLD = (
    "SELECT showtime_id, seat_id FROM tickets WHERE status IN ('VALID','USED')"
    " GROUP BY 1,2 HAVING count(*) > 1"
)
# Every PAID order of these showtimes: its ticket lines, the lines without exactly one
# ticket, its tickets and its SUCCEEDED payments.
PAID_ORDERS = """
SELECT o.id, o.number,
  (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id AND l.kind = 'TICKET') AS lines,
  (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id AND l.kind = 'TICKET'
     AND (SELECT count(*) FROM tickets t WHERE t.order_line_id = l.id) <> 1) AS lines_off,
  (SELECT count(*) FROM tickets t WHERE t.order_id = o.id) AS tickets,
  (SELECT count(*) FROM payments p WHERE p.order_id = o.id AND p.status = 'SUCCEEDED')
    AS succeeded
FROM orders o WHERE o.status = 'PAID' AND o.showtime_id = ANY($1::bigint[])
"""


async def check_sales(
    server: Server, showtimes: list[int], bought: dict[int, tuple[int, list[int]]]
) -> dict[str, int]:
    """Zero double sales, checked in SQL: no (showtime, seat) with two live tickets; every
    PAID order of these showtimes has one ticket per ticket line and a SUCCEEDED payment;
    the PAID orders are exactly those answered PAID (`bought`: order pk -> (showtime,
    seats)), their tickets exactly the seats bought, and those seats SOLD. Raises
    BenchError naming what is wrong; returns counts for the report."""
    conn = await booking.connect(server)
    try:
        doubles = await conn.fetch(DOUBLE_SOLD)
        paid = await conn.fetch(PAID_ORDERS, showtimes)
        tickets = await conn.fetch(
            "SELECT order_id, showtime_id, seat_id FROM tickets"
            " WHERE showtime_id = ANY($1::bigint[]) AND status IN ('VALID','USED')",
            showtimes,
        )
        sold = await conn.fetchval(
            "SELECT count(*) FROM seat_occupancy"
            " WHERE showtime_id = ANY($1::bigint[]) AND status = 'SOLD'",
            showtimes,
        )
        unsold = await conn.fetchval(
            "SELECT count(*) FROM tickets t WHERE t.showtime_id = ANY($1::bigint[])"
            " AND t.status IN ('VALID','USED') AND NOT EXISTS (SELECT 1 FROM seat_occupancy o"
            " WHERE o.showtime_id = t.showtime_id AND o.seat_id = t.seat_id"
            " AND o.order_id = t.order_id AND o.status = 'SOLD')",
            showtimes,
        )
        other = await conn.fetch(
            "SELECT status, count(*) AS n FROM orders WHERE showtime_id = ANY($1::bigint[])"
            " AND status <> 'PAID' GROUP BY 1 ORDER BY 1",
            showtimes,
        )
    finally:
        await conn.close()
    problems = []
    if doubles:
        problems.append(
            f"{len(doubles)} (showtime, seat) with two live tickets, e.g."
            f" {[tuple(r) for r in doubles[:5]]}"
        )
    broken = [
        dict(r) for r in paid if r["lines_off"] or r["tickets"] != r["lines"] or r["succeeded"] != 1
    ]
    if broken:
        problems.append(
            f"{len(broken)} PAID orders without one ticket per ticket line and one SUCCEEDED"
            f" payment, e.g. {broken[:3]}"
        )
    in_db = {int(r["id"]) for r in paid}
    if in_db != set(bought):
        problems.append(
            f"{len(in_db - set(bought))} PAID orders nobody was told of, e.g."
            f" {sorted(in_db - set(bought))[:5]}; {len(set(bought) - in_db)} answered PAID"
            f" but not PAID, e.g. {sorted(set(bought) - in_db)[:5]}"
        )
    actual = sorted((int(r["order_id"]), int(r["showtime_id"]), int(r["seat_id"])) for r in tickets)
    expected = sorted((o, show, seat) for o, (show, seats) in bought.items() for seat in seats)
    if actual != expected:
        problems.append(
            f"the live tickets ({len(actual)}) are not the seats answered PAID ({len(expected)})"
        )
    if unsold or sold != len(tickets):
        problems.append(
            f"{unsold} tickets whose seat is not SOLD to their order; {sold} seats SOLD for"
            f" {len(tickets)} tickets"
        )
    if problems:
        raise BenchError("double-sale check failed: " + "; ".join(problems))
    return {
        "paid_orders": len(paid),
        "tickets": len(tickets),
        "double_sold": len(doubles),
        **{f"orders_{r['status'].lower()}": int(r["n"]) for r in other},
    }
