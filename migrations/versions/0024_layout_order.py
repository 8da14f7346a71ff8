"""layout order: the hall's seats in layout order as arrays on `halls`, kept with the version.

Both seat maps read every seat of the hall in every request: the packed one
(`Showtime.seatStatuses`) aggregated one character per seat in layout order (a join of all
the hall's seats to the showtime's occupancies, two windows for the order and a sorted
`string_agg`: about 1.2 ms of PostgreSQL for a 300-seat hall), the typed one (`seatMap`) read
one row per seat (300 rows for the worker to decode). The layout's part of that (which seat
is where, its row, number and type, whether it is blocked) only changes with the seats, so
the triggers of migration 0023 now store it beside the version, in layout order (rows in
order of first appearance in drawing order, seats in drawing order:
`db.cinemas.layout.group_rows`): the seat ids, row labels, numbers and types, and the string
of each seat's status without occupancy (`B` blocked, else `A`). A request reads those and
only the showtime's live occupancies, and the worker lays the occupancies over the base.

Revision ID: 0024_layout_order
Revises: 0023_layout_versions
Create Date: 2026-12-04
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024_layout_order"
down_revision: str | None = "0023_layout_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A hall's seats in layout order (empty arrays and '' for a hall without seats).
ORDER_FUNCTION = r"""
CREATE FUNCTION marquee_layout_order(
    p_hall bigint,
    OUT seat_ids bigint[], OUT row_labels text[], OUT numbers integer[], OUT seat_types text[],
    OUT base text
)
LANGUAGE sql STABLE AS $fn$
    WITH drawn AS (
        SELECT s.id, s.row_label, s.number, s.seat_type, s.is_blocked,
               row_number() OVER (ORDER BY s.y, s.x, s.id) AS ord
        FROM seats s WHERE s.hall_id = p_hall
    ), grouped AS (
        SELECT d.*, min(d.ord) OVER (PARTITION BY d.row_label) AS row_ord FROM drawn d
    )
    SELECT coalesce(array_agg(g.id ORDER BY g.row_ord, g.ord), '{}'),
           coalesce(array_agg(g.row_label::text ORDER BY g.row_ord, g.ord), '{}'),
           coalesce(array_agg(g.number ORDER BY g.row_ord, g.ord), '{}'),
           coalesce(array_agg(g.seat_type::text ORDER BY g.row_ord, g.ord), '{}'),
           coalesce(string_agg(CASE WHEN g.is_blocked THEN 'B' ELSE 'A' END, ''
                               ORDER BY g.row_ord, g.ord), '')
    FROM grouped g
$fn$
"""

# Each column and the function's output of the same name.
KEPT = {
    "layout_seat_ids": "seat_ids",
    "layout_row_labels": "row_labels",
    "layout_numbers": "numbers",
    "layout_seat_types": "seat_types",
    "layout_base": "base",
}
_SET = (
    f"({', '.join(KEPT)}) = (SELECT {', '.join('o.' + c for c in KEPT.values())}"
    " FROM marquee_layout_order(h.id) o)"
)

# 0023's trigger function, each branch now keeping all three columns.
TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION marquee_seats_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    halls_changed bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        halls_changed := ARRAY(SELECT DISTINCT n.hall_id FROM new_seats n);
    ELSIF TG_OP = 'DELETE' THEN
        halls_changed := ARRAY(SELECT DISTINCT o.hall_id FROM old_seats o);
    ELSE
        halls_changed := ARRAY(
            SELECT n.hall_id FROM new_seats n UNION SELECT o.hall_id FROM old_seats o);
    END IF;
    UPDATE halls h
    SET layout_version = marquee_layout_version(h.id),
        {_SET}
    WHERE h.id = ANY (halls_changed);
    RETURN NULL;
END
$fn$
"""

# 0023's function, for the downgrade.
PREVIOUS_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION marquee_seats_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE halls h SET layout_version = marquee_layout_version(h.id)
        WHERE h.id IN (SELECT DISTINCT n.hall_id FROM new_seats n);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE halls h SET layout_version = marquee_layout_version(h.id)
        WHERE h.id IN (SELECT DISTINCT o.hall_id FROM old_seats o);
    ELSE
        UPDATE halls h SET layout_version = marquee_layout_version(h.id)
        WHERE h.id IN (SELECT n.hall_id FROM new_seats n UNION SELECT o.hall_id FROM old_seats o);
    END IF;
    RETURN NULL;
END
$fn$
"""


def upgrade() -> None:
    types: dict[str, tuple[sa.types.TypeEngine[Any], str]] = {
        "layout_seat_ids": (postgresql.ARRAY(sa.BigInteger()), "{}"),
        "layout_row_labels": (postgresql.ARRAY(sa.Text()), "{}"),
        "layout_numbers": (postgresql.ARRAY(sa.Integer()), "{}"),
        "layout_seat_types": (postgresql.ARRAY(sa.Text()), "{}"),
        "layout_base": (sa.Text(), ""),
    }
    for name, (type_, default) in types.items():
        op.add_column("halls", sa.Column(name, type_, server_default=default, nullable=False))
    op.execute(ORDER_FUNCTION)
    op.execute(TRIGGER_FUNCTION)
    op.execute(f"UPDATE halls h SET {_SET}")


def downgrade() -> None:
    op.execute(PREVIOUS_TRIGGER_FUNCTION)
    op.execute("DROP FUNCTION marquee_layout_order(bigint)")
    for name in reversed(KEPT):
        op.drop_column("halls", name)
