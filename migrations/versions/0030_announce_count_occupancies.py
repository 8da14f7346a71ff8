"""announce count occupancies: the announcer counts a showtime's live occupancies without
reading a seat for each of them.

`marquee_announce_seats` (migration 0025_announce_count) subtracted from the hall's seats
that are not blocked the live occupancies of such seats, joining every occupancy of the
showtime to its seat to see whether it is blocked. That join was the dearest part of a
sale in PostgreSQL: under the `checkout_pay` bench pg_stat_statements put the count at
0.37 ms (one client) to 0.63 ms (64 clients) a call, twice a purchase, growing with the
seats sold; on a showtime with 178 occupancies its plan probed the occupancies once for
each of the hall's 300 seats (0.9 ms), where counting the occupancies alone takes 0.07 ms.

Now the count is the hall's seats not blocked (the stored layout, as before) less every
live occupancy of the showtime, plus the live occupancies of blocked seats, which the first
term never counted (a seat sold and then blocked). The last term is read from the blocked
seats of the hall (a new partial index), and only in a hall whose layout has a blocked
seat. The result is the old count exactly: an occupancy's seat is always a seat of the
showtime's hall (the hold refuses seats of another hall, seats never change hall, and a
showtime keeps its hall), and (showtime, seat) is unique in `seat_occupancy`.

CREATE OR REPLACE drops the function's settings, so its generic plans (0027_generic_plans)
are set again.

Revision ID: 0030_announce_count_occupancies
Revises: 0029_payload_order
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

from migrations.earlier import earlier

revision: str = "0030_announce_count_occupancies"
down_revision: str | None = "0029_payload_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "marquee_announce_seats(bigint, bigint[], text[], boolean)"

NEW_COUNT = """    -- (The hall's seats not blocked, from the layout the seat triggers keep, less the
    -- showtime's live occupancies, plus those of blocked seats, which the layout never
    -- counted: read through the hall's blocked seats, only when it has any. Migration
    -- 0030_announce_count_occupancies.)
    SELECT length(replace(h.layout_base, 'B', '')) - (
        SELECT count(*) FROM seat_occupancy o
        WHERE o.showtime_id = p_showtime AND (o.status = 'SOLD' OR o.expires_at > now())
    ) + CASE WHEN strpos(h.layout_base, 'B') = 0 THEN 0 ELSE (
        SELECT count(*) FROM seats s
        JOIN seat_occupancy o ON o.showtime_id = p_showtime AND o.seat_id = s.id
        WHERE s.hall_id = v_hall AND s.is_blocked
        AND (o.status = 'SOLD' OR o.expires_at > now())
    ) END INTO v_available FROM halls h WHERE h.id = v_hall;"""


def _announce_0025() -> tuple[str, str]:
    """The announcer of 0025_announce_count (CREATE OR REPLACE) and its count."""
    module = earlier("0025_announce_count")
    definition: str = module._announce_0006().replace(module.OLD_COUNT, module.NEW_COUNT)
    assert definition.count(module.NEW_COUNT) == 1
    return definition, module.NEW_COUNT


def announce_0030() -> str:
    """This migration's `marquee_announce_seats`, as CREATE OR REPLACE (for later
    migrations; its generic plans are set apart, with ALTER FUNCTION)."""
    definition, count = _announce_0025()
    return definition.replace(count, NEW_COUNT)


def upgrade() -> None:
    op.execute("CREATE INDEX ix_seats_hall_id_blocked ON seats (hall_id) WHERE is_blocked")
    op.execute(announce_0030())
    op.execute(f"ALTER FUNCTION {SIGNATURE} SET plan_cache_mode = force_generic_plan")


def downgrade() -> None:
    definition, _ = _announce_0025()
    op.execute(definition)
    op.execute(f"ALTER FUNCTION {SIGNATURE} SET plan_cache_mode = force_generic_plan")
    op.execute("DROP INDEX ix_seats_hall_id_blocked")
