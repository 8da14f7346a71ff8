"""Loaders of orders: orders and tickets by id; lines, tickets and payments by order."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from db.orders import queries
from graph.loaders import ContextLoader
from graph.orders import types as order_types

if TYPE_CHECKING:
    from graph.orders.types import Order, OrderLine, Payment, Ticket


class OrderByIdLoader(ContextLoader[int, "Order | None"]):
    async def batch_load_fn(self, keys: list[int]) -> list[Order | None]:
        rows = await queries.orders_by_ids(self.context.db, keys)
        found = {r.id: order_types.Order.from_row(r) for r in rows}
        return [found.get(k) for k in keys]


class TicketByIdLoader(ContextLoader[int, "Ticket | None"]):
    async def batch_load_fn(self, keys: list[int]) -> list[Ticket | None]:
        rows = await queries.tickets_by_ids(self.context.db, keys)
        found = {r.id: order_types.Ticket.from_row(r) for r in rows}
        return [found.get(k) for k in keys]


class LinesByOrderLoader(ContextLoader[int, "list[OrderLine]"]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[OrderLine]]:
        grouped: dict[int, list[OrderLine]] = defaultdict(list)
        for r in await queries.lines_by_order_ids(self.context.db, keys):
            grouped[r.order_id].append(order_types.OrderLine.from_row(r, r.currency))
        return [grouped.get(k, []) for k in keys]


class TicketsByOrderLoader(ContextLoader[int, "list[Ticket]"]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[Ticket]]:
        grouped: dict[int, list[Ticket]] = defaultdict(list)
        for r in await queries.tickets_by_order_ids(self.context.db, keys):
            grouped[r.order_id].append(order_types.Ticket.from_row(r))
        return [grouped.get(k, []) for k in keys]


class PaymentsByOrderLoader(ContextLoader[int, "list[Payment]"]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[Payment]]:
        grouped: dict[int, list[Payment]] = defaultdict(list)
        for r in await queries.payments_by_order_ids(self.context.db, keys):
            grouped[r.order_id].append(order_types.Payment.from_row(r))
        return [grouped.get(k, []) for k in keys]
