"""Loaders of orders: orders and tickets by id; lines, tickets and payments by order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from db.orders import queries
from graph.cinemas import loaders as cinema_loaders
from graph.cinemas import types as cinema_types
from graph.loaders import ContextLoader, Prefixed
from graph.orders import types as order_types

if TYPE_CHECKING:
    from graph.context import Context
    from graph.orders.types import Order, OrderLine, Payment, Ticket


def prime_seats(context: Context, rows: Sequence[Any]) -> None:
    """Lines and tickets are read with their seat joined in (`seat__*` columns): the seat
    loader gets them, so `seat { ... }` costs no statement of its own."""
    seats = context.loader(cinema_loaders.SeatByIdLoader)
    for row in rows:
        if row.seat_id is not None:
            seats.prime(row.seat_id, cinema_types.Seat.from_row(Prefixed(row, "seat__")))


class OrderByIdLoader(ContextLoader[int, "Order | None"]):
    async def batch_load_fn(self, keys: list[int]) -> list[Order | None]:
        rows = await queries.orders_by_ids(self.context.db, keys)
        found = {r.id: order_types.Order.from_row(r) for r in rows}
        return [found.get(k) for k in keys]


class TicketByIdLoader(ContextLoader[int, "Ticket | None"]):
    async def batch_load_fn(self, keys: list[int]) -> list[Ticket | None]:
        rows = await queries.tickets_by_ids(self.context.db, keys)
        prime_seats(self.context, rows)
        found = {r.id: order_types.Ticket.from_row(r) for r in rows}
        return [found.get(k) for k in keys]


class LinesByOrderLoader(ContextLoader[int, "list[OrderLine]"]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[OrderLine]]:
        grouped: dict[int, list[OrderLine]] = defaultdict(list)
        rows = await queries.lines_by_order_ids(self.context.db, keys)
        prime_seats(self.context, rows)
        for r in rows:
            grouped[r.order_id].append(order_types.OrderLine.from_row(r, r.currency))
        return [grouped.get(k, []) for k in keys]


class TicketsByOrderLoader(ContextLoader[int, "list[Ticket]"]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[Ticket]]:
        grouped: dict[int, list[Ticket]] = defaultdict(list)
        rows = await queries.tickets_by_order_ids(self.context.db, keys)
        prime_seats(self.context, rows)
        for r in rows:
            grouped[r.order_id].append(order_types.Ticket.from_row(r))
        return [grouped.get(k, []) for k in keys]


def prime_order_tickets(context: Context, order_id: int, rows: Sequence[Any]) -> None:
    """Every ticket of one order, read by another statement (payOrder's settle returns
    them) in the rows `TicketsByOrderLoader` reads: its loader and the seats' get them."""
    prime_seats(context, rows)
    tickets = [order_types.Ticket.from_row(r) for r in rows]
    context.loader(TicketsByOrderLoader).prime(order_id, tickets)


class PaymentsByOrderLoader(ContextLoader[int, "list[Payment]"]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[Payment]]:
        grouped: dict[int, list[Payment]] = defaultdict(list)
        for r in await queries.payments_by_order_ids(self.context.db, keys):
            grouped[r.order_id].append(order_types.Payment.from_row(r))
        return [grouped.get(k, []) for k in keys]
