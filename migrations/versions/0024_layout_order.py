"""layout order: `halls.layout_seat_ids` and `halls.layout_base`, kept with the layout version.

The packed seat map (`Showtime.seatStatuses`) aggregated one character per seat of the hall
in layout order in every request: a join of all the hall's seats to the showtime's
occupancies, two windows for the order and a sorted `string_agg`, about 1.2 ms of PostgreSQL
for a 300-seat hall. The layout's part of that (which seat is where, which is blocked) only
changes with the seats, so the triggers of migration 0023 now store it beside the version:
the hall's seat ids in layout order (rows in order of first appearance in drawing order,
seats in drawing order: `db.cinemas.layout.group_rows`) and the string of each seat's
status without occupancy (`B` blocked, else `A`). A request reads those and only the
showtime's live occupancies, and a worker lays the occupancies over the base string.

Revision ID: 0024_layout_order
Revises: 0023_layout_versions
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024_layout_order"
down_revision: str | None = "0023_layout_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (seat ids, base statuses) of a hall in layout order; empty for a hall without seats.
ORDER_FUNCTION = r"""
CREATE FUNCTION marquee_layout_order(p_hall bigint, OUT seat_ids bigint[], OUT base text)
LANGUAGE sql STABLE AS $fn$
    WITH drawn AS (
        SELECT s.id, s.row_label, s.is_blocked,
               row_number() OVER (ORDER BY s.y, s.x, s.id) AS ord
        FROM seats s WHERE s.hall_id = p_hall
    ), grouped AS (
        SELECT d.*, min(d.ord) OVER (PARTITION BY d.row_label) AS row_ord FROM drawn d
    )
    SELECT coalesce(array_agg(g.id ORDER BY g.row_ord, g.ord), '{}'),
           coalesce(string_agg(CASE WHEN g.is_blocked THEN 'B' ELSE 'A' END, ''
                               ORDER BY g.row_ord, g.ord), '')
    FROM grouped g
$fn$
"""

# 0023's trigger function, each branch now keeping all three columns.
TRIGGER_FUNCTION = r"""
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
        (layout_seat_ids, layout_base) = (SELECT o.seat_ids, o.base
                                          FROM marquee_layout_order(h.id) o)
    WHERE h.id = ANY (halls_changed);
    RETURN NULL;
END
$fn$
"""

# 0023's function, for the downgrade.
PREVIOUS_TRIGGER_FUNCTION = r"""
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
    op.add_column(
        "halls",
        sa.Column(
            "layout_seat_ids",
            postgresql.ARRAY(sa.BigInteger()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column("halls", sa.Column("layout_base", sa.Text(), server_default="", nullable=False))
    op.execute(ORDER_FUNCTION)
    op.execute(TRIGGER_FUNCTION)
    op.execute(
        "UPDATE halls h SET (layout_seat_ids, layout_base) = "
        "(SELECT o.seat_ids, o.base FROM marquee_layout_order(h.id) o)"
    )


def downgrade() -> None:
    op.execute(PREVIOUS_TRIGGER_FUNCTION)
    op.execute("DROP FUNCTION marquee_layout_order(bigint)")
    op.drop_column("halls", "layout_base")
    op.drop_column("halls", "layout_seat_ids")
