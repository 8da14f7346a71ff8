"""The invariants checked after the soak, in SQL (on the soak's own database) and through the
API. Each check gives (name, checked count, violations, detail); a violation fails the run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from bench.soak.client import Api, payload
from bench.soak.cluster import Cluster
from bench.soak.flows import ME, SEAT_STATUSES, Subscription, World, sign_in


@dataclass
class Check:
    name: str
    checked: int
    violations: int
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.violations == 0


@dataclass
class Baseline:
    """What the database held before the load: the last order id (demo orders queue no
    e-mail) and each counted variant's stock."""

    last_order_id: int
    stock: dict[int, int]


async def baseline(cluster: Cluster) -> Baseline:
    conn = await asyncpg.connect(cluster.dsn)
    try:
        last = await conn.fetchval("SELECT coalesce(max(id), 0) FROM orders")
        rows = await conn.fetch("SELECT id, stock FROM product_variants WHERE stock IS NOT NULL")
    finally:
        await conn.close()
    return Baseline(int(last), {int(r["id"]): int(r["stock"]) for r in rows})


def _sample(rows: list[Any], n: int = 5) -> str:
    return "; ".join(str(dict(r)) for r in rows[:n])


async def check_sql(
    cluster: Cluster, base: Baseline, staff_variants: set[int], message_ids: dict[str, int]
) -> list[Check]:
    conn = await asyncpg.connect(cluster.dsn)
    checks: list[Check] = []
    try:

        async def add(name: str, total_sql: str, bad_sql: str, *args: Any) -> None:
            total = int(await conn.fetchval(total_sql, *args))
            bad = await conn.fetch(bad_sql, *args)
            checks.append(Check(name, total, len(bad), _sample(bad)))

        await add(
            "no seat with two live tickets",
            "SELECT count(*) FROM tickets WHERE status IN ('VALID','USED')",
            "SELECT showtime_id, seat_id, count(*) AS n FROM tickets"
            " WHERE status IN ('VALID','USED') GROUP BY 1, 2 HAVING count(*) > 1",
        )
        await add(
            "PAID order: one VALID/USED ticket per seat line",
            "SELECT count(*) FROM orders WHERE status = 'PAID'",
            "SELECT o.id, o.number,"
            " (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id AND l.seat_id IS NOT NULL)"  # noqa: E501
            " AS seat_lines,"
            " (SELECT count(*) FROM tickets t WHERE t.order_id = o.id"
            "  AND t.status IN ('VALID','USED')) AS live_tickets,"
            " (SELECT count(DISTINCT t.seat_id) FROM tickets t JOIN order_lines l"
            "  ON l.id = t.order_line_id WHERE t.order_id = o.id AND t.seat_id = l.seat_id"
            "  AND t.status IN ('VALID','USED')) AS matching"
            " FROM orders o WHERE o.status = 'PAID' AND NOT ("
            " (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id AND l.seat_id IS NOT NULL)"  # noqa: E501
            " = (SELECT count(*) FROM tickets t WHERE t.order_id = o.id"
            "    AND t.status IN ('VALID','USED'))"
            " AND (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id"
            "    AND l.seat_id IS NOT NULL) = (SELECT count(DISTINCT t.seat_id) FROM tickets t"
            "    JOIN order_lines l ON l.id = t.order_line_id WHERE t.order_id = o.id"
            "    AND t.seat_id = l.seat_id AND t.status IN ('VALID','USED')))",
        )
        await add(
            "PAID order has a captured payment",
            "SELECT count(*) FROM orders WHERE status = 'PAID'",
            "SELECT o.id, o.number FROM orders o WHERE o.status = 'PAID' AND NOT EXISTS ("
            " SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.status = 'SUCCEEDED')",
        )
        await add(
            "not PAID: no live ticket",
            "SELECT count(*) FROM orders WHERE status <> 'PAID'",
            "SELECT o.id, o.status FROM orders o WHERE o.status <> 'PAID' AND EXISTS ("
            " SELECT 1 FROM tickets t WHERE t.order_id = o.id AND t.status IN ('VALID','USED'))",
        )
        await add(
            "captured payment -> PAID/REFUNDED order",
            "SELECT count(*) FROM payments WHERE status IN ('SUCCEEDED','REFUNDED')",
            "SELECT p.id, p.status, o.status AS order_status FROM payments p"
            " JOIN orders o ON o.id = p.order_id WHERE (p.status = 'SUCCEEDED'"
            " AND o.status <> 'PAID') OR (p.status = 'REFUNDED' AND o.status NOT IN"
            " ('REFUNDED','PAID','EXPIRED','CANCELLED'))",
        )
        await add(
            "charge at the provider: none orphaned",
            "SELECT count(*) FROM sandbox_charges WHERE status IN ('succeeded','refunded')",
            "SELECT c.id, c.status, c.refunded_amount, p.status AS payment, o.status AS order_status"  # noqa: E501
            " FROM sandbox_charges c LEFT JOIN payments p ON p.reference = c.reference"
            " LEFT JOIN orders o ON o.id = p.order_id"
            " WHERE c.status = 'succeeded' AND c.refunded_amount = 0"
            " AND (o.status IS DISTINCT FROM 'PAID' OR p.status IS DISTINCT FROM 'SUCCEEDED')",
        )
        await add(
            "no payment left PROCESSING",
            "SELECT count(*) FROM payments",
            "SELECT id, order_id, created_at FROM payments WHERE status = 'PROCESSING'",
        )
        await add(
            "stock never below zero",
            "SELECT count(*) FROM product_variants WHERE stock IS NOT NULL",
            "SELECT id, stock FROM product_variants WHERE stock < 0",
        )
        # Stock = initial - live reservations (pending and paid) of the run, for every
        # counted variant only customers buy.
        rows = await conn.fetch(
            "SELECT v.id, v.stock, coalesce(sum(l.quantity) FILTER (WHERE o.status IN"
            " ('PENDING_PAYMENT','PAID') AND o.id > $1), 0) AS reserved"
            " FROM product_variants v LEFT JOIN order_lines l ON l.variant_id = v.id"
            " LEFT JOIN orders o ON o.id = l.order_id WHERE v.stock IS NOT NULL GROUP BY v.id",
            base.last_order_id,
        )
        bad = [
            r
            for r in rows
            if r["id"] not in staff_variants
            and r["id"] in base.stock
            and base.stock[r["id"]] - int(r["reserved"]) != int(r["stock"])
        ]
        bought = sum(int(r["reserved"]) for r in rows)
        checks.append(
            Check(
                f"stock = initial - live reservations ({bought} units reserved)",
                len(rows) - len(staff_variants),
                len(bad),
                "; ".join(
                    f"variant {r['id']}: initial {base.stock[r['id']]}, reserved"
                    f" {r['reserved']}, stock {r['stock']}"
                    for r in bad[:5]
                ),
            )
        )
        await add(
            "promo code within its limits, times_used = live uses",
            "SELECT count(*) FROM promo_codes",
            "SELECT p.code, p.times_used, p.usage_limit, (SELECT count(*) FROM orders o"
            " WHERE o.promo_code_id = p.id AND o.status IN ('PENDING_PAYMENT','PAID','REFUNDED'))"
            " AS live FROM promo_codes p WHERE p.times_used > coalesce(p.usage_limit, p.times_used)"
            " OR p.times_used <> (SELECT count(*) FROM orders o WHERE o.promo_code_id = p.id"
            " AND o.status IN ('PENDING_PAYMENT','PAID','REFUNDED'))",
        )
        await add(
            "promo code per-customer limit",
            "SELECT count(*) FROM orders WHERE promo_code_id IS NOT NULL",
            "SELECT o.user_id, p.code, count(*) AS n, p.per_user_limit FROM orders o"
            " JOIN promo_codes p ON p.id = o.promo_code_id WHERE o.status IN"
            " ('PENDING_PAYMENT','PAID','REFUNDED') AND p.per_user_limit IS NOT NULL"
            " GROUP BY 1, 2, 4 HAVING count(*) > p.per_user_limit",
        )
        await add(
            "loyalty points and totalSpent = paid orders (refunds taken back)",
            "SELECT count(*) FROM users",
            "SELECT u.id, u.loyalty_points, u.total_spent, coalesce(sum(o.loyalty_points), 0) AS pts,"  # noqa: E501
            " coalesce(sum(o.total), 0) AS spent FROM users u LEFT JOIN orders o"
            " ON o.user_id = u.id AND o.status = 'PAID' GROUP BY u.id"
            " HAVING u.loyalty_points <> coalesce(sum(o.loyalty_points), 0)"
            " OR u.total_spent <> coalesce(sum(o.total), 0)",
        )
        # E-mail: each order paid in the run has its confirmation row SENT, and its
        # Message-ID reached the SMTP server (duplicate deliveries are counted apart).
        rows = await conn.fetch(
            "SELECT o.id, o.status, m.status AS mail, m.message_id FROM orders o"
            " LEFT JOIN outbox_messages m ON m.dedupe_key = 'order-confirmation:' || o.id"
            " WHERE o.id > $1 AND (o.status = 'PAID' OR o.paid_at IS NOT NULL)",
            base.last_order_id,
        )
        bad = [
            r for r in rows if r["mail"] != "SENT" or message_ids.get(str(r["message_id"]), 0) < 1
        ]
        duplicates = sum(1 for r in rows if message_ids.get(str(r["message_id"]), 0) > 1)
        checks.append(
            Check(
                "paid order: confirmation sent once (by Message-ID)",
                len(rows),
                len(bad),
                _sample(bad)
                + (f" ({duplicates} re-delivered with the same Message-ID)" if duplicates else ""),
            )
        )
        await add(
            "outbox: nothing PENDING or FAILED",
            "SELECT count(*) FROM outbox_messages",
            "SELECT id, template, status, attempts, last_error FROM outbox_messages"
            " WHERE status <> 'SENT'",
        )
    finally:
        await conn.close()
    return checks


async def check_api(
    api: Api, cluster: Cluster, world: World, subs: list[Subscription], sample: int = 20
) -> list[Check]:
    checks: list[Check] = []
    # Every subscriber's last sequence against the showtime's, read through the API.
    current: dict[str, int] = {}
    for sid in {s.showtime for s in subs}:
        body = await api.call("seat_statuses", SEAT_STATUSES, {"id": sid})
        current[sid] = int(payload(body, "showtime")["seatStatuses"]["sequence"])
    bad = [s for s in subs if s.last != current[s.showtime]]
    checks.append(
        Check(
            "subscriber's last sequence = showtime's",
            len(subs),
            len(bad),
            "; ".join(
                f"{s.showtime} via {s.url}: last {s.last}, showtime {current[s.showtime]},"
                f" reconnects {s.reconnects}, history "
                + " ".join(f"{t - time.time():.0f}s:{w}:{q}" for t, w, q in s.history)
                for s in bad[:5]
            ),
        )
    )
    # Points and totalSpent through the API, for a sample of the customers.
    conn = await asyncpg.connect(cluster.dsn)
    bad_me: list[str] = []
    try:
        for username, password in world.customers[:sample]:
            token, _ = await sign_in(api, username, password)
            me = payload(await api.call("me", ME, {}, token), "me")
            row = await conn.fetchrow(
                "SELECT coalesce(sum(o.loyalty_points), 0) AS pts, coalesce(sum(o.total), 0)"
                " AS spent FROM users u LEFT JOIN orders o ON o.user_id = u.id"
                " AND o.status = 'PAID' WHERE u.username = $1",
                username,
            )
            assert row is not None
            if int(me["loyaltyPoints"]) != int(row["pts"]) or Decimal(
                str(me["totalSpent"]["amount"])
            ) != Decimal(row["spent"]):
                bad_me.append(f"{username}: api {me}, paid orders {dict(row)}")
    finally:
        await conn.close()
    checks.append(
        Check(
            "me.loyaltyPoints/totalSpent = paid orders (API)",
            min(sample, len(world.customers)),
            len(bad_me),
            "; ".join(bad_me[:3]),
        )
    )
    return checks
