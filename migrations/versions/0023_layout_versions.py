"""layout versions: `halls.layout_version`, kept by PostgreSQL whenever a hall's seats change.

A hall layout's version is a short hash of its seats (id, row, number, type, x, y, blocked)
in drawing order (`db.cinemas.layout`). The packed seat map (`Showtime.seatStatuses`) used to
build that text from all of the hall's seats in every request, a third of its statement's
time (1.27 against 0.85 ms for a 300-seat hall); now it reads the stored version. Statement-
level triggers on `seats` recompute it for the halls a statement touched, in the same
transaction, so no write of seats (the layout mutations, the demo data, plain SQL) can leave
it stale. The hash is SHA-256 (PostgreSQL's `sha256`, Python's `hashlib`), 16 hex digits.

Revision ID: 0023_layout_versions
Revises: 0022_fulfil_rows
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_layout_versions"
down_revision: str | None = "0022_fulfil_rows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSION_FUNCTION = r"""
CREATE FUNCTION marquee_layout_version(p_hall bigint) RETURNS text
LANGUAGE sql STABLE AS $fn$
    SELECT left(encode(sha256(convert_to(coalesce(string_agg(
        format('%s,%s,%s,%s,%s,%s,%s;',
            s.id, s.row_label, s.number, s.seat_type, s.x, s.y, s.is_blocked::integer),
        '' ORDER BY s.y, s.x, s.id), ''), 'UTF8')), 'hex'), 16)
    FROM seats s WHERE s.hall_id = p_hall
$fn$
"""

# One function for the three triggers: each branch reads only the transition tables its
# event has (a branch not taken is never planned).
TRIGGER_FUNCTION = r"""
CREATE FUNCTION marquee_seats_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
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

TRIGGERS = {
    "marquee_seats_inserted": "AFTER INSERT ON seats REFERENCING NEW TABLE AS new_seats",
    "marquee_seats_updated": (
        "AFTER UPDATE ON seats REFERENCING OLD TABLE AS old_seats NEW TABLE AS new_seats"
    ),
    "marquee_seats_deleted": "AFTER DELETE ON seats REFERENCING OLD TABLE AS old_seats",
}


def upgrade() -> None:
    op.add_column(
        "halls", sa.Column("layout_version", sa.String(16), server_default="", nullable=False)
    )
    op.execute(VERSION_FUNCTION)
    op.execute(TRIGGER_FUNCTION)
    for name, when in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT "
            "EXECUTE FUNCTION marquee_seats_changed()"
        )
    op.execute("UPDATE halls SET layout_version = marquee_layout_version(id)")


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON seats")
    op.execute("DROP FUNCTION marquee_seats_changed()")
    op.execute("DROP FUNCTION marquee_layout_version(bigint)")
    op.drop_column("halls", "layout_version")
