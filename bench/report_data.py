"""The data of the report scenarios: 100,000 orders over a year, written straight into the
bench server's database with generate_series (buying them through the API would take an
hour; the reports only read the tables).

Four cinemas in four time zones (Paris, New York, Tokyo, UTC; New York sells in USD, the
others in EUR), one 100-seat hall each, 12 movies, four showtimes per hall and day for the
366 days before today, one manager. Each order has two ticket lines, every third one a
product line as well (three products), every seventh a discount; every twentieth order is
REFUNDED 0-39 days after it was paid (so some refunds fall in a later period). Paid
timestamps spread evenly over the year. Idempotent: a second call finds the marker cinema
and only returns the manager's token. Either way the days that are over are rolled up
before the scenario runs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bench import booking
from bench.server import Server
from graph.auth import create_access_token
from graph.settings import Settings

ORDERS = 100_000
DAYS = 366
MARKER = "Bench Reports Paris"

_SCHEMA_SQL = """
WITH c AS (
  INSERT INTO cinemas (name, address, city, latitude, longitude, time_zone)
  VALUES ('Bench Reports Paris', '1 rue', 'Paris', 48.85, 2.35, 'Europe/Paris'),
         ('Bench Reports New York', '1 St', 'New York', 40.7, -74.0, 'America/New_York'),
         ('Bench Reports Tokyo', '1 dori', 'Tokyo', 35.68, 139.69, 'Asia/Tokyo'),
         ('Bench Reports London', '1 Rd', 'London', 51.5, -0.12, 'UTC')
  RETURNING id
)
INSERT INTO halls (cinema_id, name) SELECT id, 'Report hall' FROM c;

INSERT INTO seats (hall_id, row_label, number, x, y)
SELECT h.id, chr(65 + (s / 10)), (s % 10) + 1, s % 10, s / 10
FROM halls h JOIN cinemas c ON c.id = h.cinema_id AND c.name LIKE 'Bench Reports %'
CROSS JOIN generate_series(0, 99) s
ORDER BY h.id, s;

INSERT INTO movies (title, duration_minutes)
SELECT 'Report movie ' || i, 100 FROM generate_series(1, 12) i;

INSERT INTO showtimes (movie_id, hall_id, starts_at, ends_at, language)
SELECT m.ids[1 + ((d * 4 + k + h.id::int) % 12)], h.id,
       date_trunc('day', now()) - make_interval(days => d) + make_interval(hours => 10 + 3 * k),
       date_trunc('day', now()) - make_interval(days => d) + make_interval(hours => 12 + 3 * k),
       'en'
FROM halls h JOIN cinemas c ON c.id = h.cinema_id AND c.name LIKE 'Bench Reports %'
CROSS JOIN generate_series(1, $1::int) d
CROSS JOIN generate_series(0, 3) k
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM movies
            WHERE title LIKE 'Report movie %') m;

INSERT INTO products (name, sku, category, price, currency)
VALUES ('Report popcorn', 'RPT-POP', 'SNACK', 6.50, 'EUR'),
       ('Report cola', 'RPT-COLA', 'DRINK', 4.00, 'EUR'),
       ('Report t-shirt', 'RPT-TEE', 'MERCHANDISE', 19.00, 'EUR');
INSERT INTO product_variants (product_id, name, sku)
SELECT id, 'One size', sku || '-1' FROM products WHERE sku LIKE 'RPT-%';

INSERT INTO users (username, email, password_hash, role)
VALUES ('report_buyer', 'report_buyer@example.com', '-', 'CUSTOMER'),
       ('report_manager', 'report_manager@example.com', '-', 'MANAGER');
"""

# Orders: i-th order on the i-th showtime (round robin), paid in its hall's day, spread over
# the year; tickets at 12.00, a product line on every third order, a discount on every
# seventh, every twentieth refunded later.
_ORDERS_SQL = """
WITH st AS (
  SELECT array_agg(s.id ORDER BY s.starts_at, s.id) AS ids,
         array_agg(CASE c.time_zone WHEN 'America/New_York' THEN 'USD' ELSE 'EUR' END
                   ORDER BY s.starts_at, s.id) AS currencies,
         count(*)::int AS n
  FROM showtimes s JOIN halls h ON h.id = s.hall_id
  JOIN cinemas c ON c.id = h.cinema_id AND c.name LIKE 'Bench Reports %'
),
buyer AS (SELECT id FROM users WHERE username = 'report_buyer'),
g AS (
  SELECT i,
         st.ids[1 + (i * st.n / $1::int) % st.n] AS showtime_id,
         st.currencies[1 + (i * st.n / $1::int) % st.n] AS currency,
         24.00 + CASE WHEN i % 3 = 0 THEN 6.50 ELSE 0 END AS subtotal,
         CASE WHEN i % 7 = 0 THEN 2.40 ELSE 0 END AS discount
  FROM generate_series(0, $1::int - 1) i, st
)
INSERT INTO orders (number, user_id, showtime_id, status, currency, subtotal, discount, total,
                    created_at, expires_at, paid_at, refunded_at)
SELECT 'RPT-' || g.i, buyer.id, g.showtime_id,
       CASE WHEN g.i % 20 = 0 THEN 'REFUNDED' ELSE 'PAID' END,
       g.currency, g.subtotal, g.discount, g.subtotal - g.discount,
       s.starts_at - interval '2 hours', s.starts_at - interval '1 hour',
       s.starts_at - make_interval(mins => 30 + (g.i % 600)),
       CASE WHEN g.i % 20 = 0
            THEN s.starts_at - make_interval(mins => 30 + (g.i % 600))
                 + make_interval(days => g.i % 40) END
FROM g JOIN showtimes s ON s.id = g.showtime_id, buyer;
"""

_LINES_SQL = """
INSERT INTO order_lines (order_id, position, kind, description, quantity, unit_price, discount,
                         showtime_id, seat_id, seat_type)
SELECT o.id, k, 'TICKET', 'Ticket', 1, 12.00,
       CASE WHEN k = 1 THEN o.discount ELSE 0 END,
       o.showtime_id, seat.id, 'STANDARD'
FROM orders o JOIN showtimes s ON s.id = o.showtime_id
JOIN (SELECT hall_id, min(id) AS first_id FROM seats GROUP BY hall_id) f
  ON f.hall_id = s.hall_id
CROSS JOIN generate_series(1, 2) k
JOIN seats seat ON seat.id = f.first_id + (o.id * 2 + k) % 100
WHERE o.number LIKE 'RPT-%';

INSERT INTO order_lines (order_id, position, kind, description, quantity, unit_price,
                         product_id, variant_id)
SELECT o.id, 3, 'PRODUCT', p.name, 1, 6.50, p.id, v.id
FROM orders o
JOIN products p ON p.sku = (ARRAY['RPT-POP', 'RPT-COLA', 'RPT-TEE'])[1 + ((o.id / 3) % 3)]
JOIN product_variants v ON v.product_id = p.id
WHERE o.number LIKE 'RPT-%' AND o.subtotal > 24.00;

UPDATE orders o SET
  ticket_count = (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id
                  AND l.kind = 'TICKET'),
  product_count = (SELECT coalesce(sum(l.quantity), 0) FROM order_lines l
                   WHERE l.order_id = o.id AND l.kind = 'PRODUCT')
WHERE o.number LIKE 'RPT-%';

ANALYZE orders;
ANALYZE order_lines;
ANALYZE showtimes;
"""


@dataclass
class ReportData:
    manager_token: str
    first: date  # the year the orders span, in local days
    last: date
    orders: int


async def _seed(server: Server) -> int:
    conn = await booking.connect(server)
    try:
        found = await conn.fetchval("SELECT count(*) FROM cinemas WHERE name = $1", MARKER)
        if not found:
            async with conn.transaction():
                for statement in _split(_SCHEMA_SQL):
                    args = (DAYS,) if "$1" in statement else ()
                    await conn.execute(statement, *args)
                await conn.execute(_ORDERS_SQL, ORDERS)
            for statement in _split(_LINES_SQL):
                await conn.execute(statement)
        # The days that are over, summed into the reports' rollup now, as the server's own
        # roll-up does within a minute (graph/reports/rollup.py); NULL: it is rolling up
        # right now, so this tries again.
        for _ in range(300):
            if await conn.fetchval("SELECT marquee_roll_up_sales()") is not None:
                break
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError("the sales roll-up stayed locked for a minute")
        manager = await conn.fetchval("SELECT id FROM users WHERE username = 'report_manager'")
        return int(manager)
    finally:
        await conn.close()


def _split(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def prepare(server: Server) -> ReportData:
    """Seed once per database; a token for the manager (valid 15 minutes)."""
    manager = asyncio.run(_seed(server))
    # The server writes its development JWT secret when it first signs a token.
    server.sign_in()
    settings = Settings(jwt_secret=booking.jwt_secret(server))
    today = datetime.now(UTC).date()
    return ReportData(
        manager_token=create_access_token(manager, "MANAGER", settings),
        first=today - timedelta(days=DAYS - 1),
        last=today,
        orders=ORDERS,
    )
