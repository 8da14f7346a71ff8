"""hold seat order: a hold takes its new seats before it renews or releases the ones it had,
so two holds can no longer deadlock.

`marquee_hold_seats` (migration 0013_presale) first released the seats a replacing hold
drops and renewed the ones it keeps, then inserted the new ones in seat order. A concurrent
insert of a released or renewed seat waits for that change to commit, so a hold that
changed seat 9 and then wanted seat 3 could wait for a hold that had inserted seat 3 and
now waited for seat 9: a deadlock, which PostgreSQL broke by aborting one of them (seen in
the `holds` bench; `retrying` ran it again, and when the retries ran out the client got an
internal error).

Now a hold reads the seats it has (no other transaction changes them: its row in
`seat_holds` is locked by the upsert; only an expired seat can be taken over, see below),
inserts the seats it does not have yet (in seat order, the unique constraint judging), and
only then renews and releases its old rows. A hold therefore waits for other transactions
only while it inserts, before it has changed any row another insert could wait for, so no
cycle of waits between holds remains. The showtime's row lock is still taken last, by the
announcer, as in every other path that changes seats (payment, release, sweep, expiry,
cancellation).

A kept seat whose row is gone by the time it is renewed was taken over by another hold
after this one had expired (the "expired, not swept yet" rule): the hold is refused as
TAKEN naming it, as it was when the insert found the seat occupied.

With the cycle gone, the function also keeps generic plans (`plan_cache_mode =
force_generic_plan`, as the announcer does since 0027_generic_plans): PostgreSQL otherwise
planned one of its statements again at every call. Set on the old function, that setting
had made the deadlock above common enough to exhaust the retries; with this order the
`holds` bench ran five times without a single retry, at 3.7-4.0 ms of server and
PostgreSQL CPU per hold against 4.4-4.8 ms with PostgreSQL's own choice (bench/README.md).

Revision ID: 0028_hold_seat_order
Revises: 0027_generic_plans
Create Date: 2026-12-04
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0028_hold_seat_order"
down_revision: str | None = "0027_generic_plans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_DECLARE = """    v_kept bigint[] := '{}';
"""
NEW_DECLARE = """    v_kept bigint[] := '{}';
    v_own bigint[] := '{}';
"""

# The release of the seats not wanted and the renewal of the others: the same statement,
# moved from before the inserts to after them.
RELEASE_AND_RENEW = """            WITH gone AS (
                DELETE FROM seat_occupancy o
                WHERE o.hold_id = v_hold AND o.status = 'HELD'
                AND NOT (o.seat_id = ANY (v_wanted))
                RETURNING o.seat_id
            ), renewed AS (
                UPDATE seat_occupancy o SET expires_at = v_expires
                WHERE o.hold_id = v_hold AND o.status = 'HELD' AND o.seat_id = ANY (v_wanted)
                RETURNING o.seat_id
            )
            SELECT
                coalesce((SELECT array_agg(g.seat_id ORDER BY g.seat_id) FROM gone g), '{}'),
                coalesce((SELECT array_agg(r.seat_id) FROM renewed r), '{}')
            INTO v_released, v_kept;
"""

OLD_RENEW_FIRST = (
    """        IF NOT v_created THEN
            -- Seats of the previous hold: release those not wanted, renew the others.
"""
    + RELEASE_AND_RENEW
    + """        END IF;

        v_add := ARRAY(SELECT w FROM unnest(v_wanted) w WHERE NOT (w = ANY (v_kept)) ORDER BY w);
"""
)
NEW_READ_FIRST = """        IF NOT v_created THEN
            -- The seats of the previous hold, changed only after the new ones are taken
            -- (migration 0028_hold_seat_order: no cycle of waits between holds).
            v_own := ARRAY(
                SELECT o.seat_id FROM seat_occupancy o
                WHERE o.hold_id = v_hold AND o.status = 'HELD'
            );
        END IF;

        v_add := ARRAY(SELECT w FROM unnest(v_wanted) w WHERE NOT (w = ANY (v_own)) ORDER BY w);
"""

ANNOUNCE = """        IF cardinality(v_released) + cardinality(v_add) > 0 THEN
"""
RENEW_AFTER = (
    """        IF cardinality(v_own) > 0 THEN
            -- Now release the old seats not wanted and renew the others.
"""
    + RELEASE_AND_RENEW
    + """            -- A kept seat with no row left: this hold had expired and another took it over.
            v_lost := ARRAY(
                SELECT w FROM unnest(v_wanted) w
                WHERE w = ANY (v_own) AND NOT (w = ANY (v_kept)) ORDER BY w
            );
            IF cardinality(v_lost) > 0 THEN
                RAISE EXCEPTION 'seats taken' USING ERRCODE = 'MQ409';
            END IF;
        END IF;

"""
)


SIGNATURE = "marquee_hold_seats(bigint, bigint, bigint[], integer, integer, integer, text)"


def _hold_seats_0013() -> str:
    """The 0013_presale definition of `marquee_hold_seats`, as CREATE OR REPLACE."""
    path = Path(__file__).with_name("0013_presale.py")
    spec = importlib.util.spec_from_file_location("marquee_migration_0013_presale", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    definition: str = module.HOLD_SEATS_FUNCTION
    for part in (OLD_DECLARE, OLD_RENEW_FIRST, ANNOUNCE):
        assert definition.count(part) == 1, part
    return definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def hold_seats_0028() -> str:
    """This migration's `marquee_hold_seats`, as CREATE OR REPLACE (for later migrations)."""
    return (
        _hold_seats_0013()
        .replace(OLD_DECLARE, NEW_DECLARE)
        .replace(OLD_RENEW_FIRST, NEW_READ_FIRST)
        .replace(ANNOUNCE, RENEW_AFTER + ANNOUNCE)
    )


def upgrade() -> None:
    op.execute(hold_seats_0028())
    op.execute(f"ALTER FUNCTION {SIGNATURE} SET plan_cache_mode = force_generic_plan")


def downgrade() -> None:
    op.execute(_hold_seats_0013())
