"""booking: one announcer of seat changes, `marquee_announce_seats`, used by every path

Revision ID: 0006_seat_announcer
Revises: 0005_session_revocation
Create Date: 2026-12-03
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0006_seat_announcer"
down_revision: str | None = "0005_session_revocation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The one place where a seat change is announced (docs/booking.md, "Sequence and NOTIFY"):
# the hold function below and `db.booking.actions.announce_seat_changes` (release, sweep,
# showtime cancellation, layout change) both call it, inside their own transaction.
# It bumps the showtime's seat_sequence (the row lock orders sequences in commit order),
# counts the seats still available, and sends the payload on the `seat_changes` channel:
#   {"s": showtime, "q": new sequence, "a": available, "c": [[seat, "A"|"H"|"S"|"B"], ...]}
# changes ordered by seat id; a change too big for NOTIFY (8000 bytes) is sent as
#   {"s": ..., "q": ..., "a": ..., "r": 1}  (subscribers take a fresh snapshot instead).
# p_seat_ids and p_statuses are parallel arrays (statuses AVAILABLE/HELD/SOLD/BLOCKED).
# Returns the new sequence, or NULL (nothing bumped, nothing sent) when the showtime does
# not exist or, with p_require_scheduled, is not SCHEDULED any more.
# (op.execute runs it as text(): the one colon before a digit is escaped.)
ANNOUNCE_SEATS_FUNCTION = r"""
CREATE FUNCTION marquee_announce_seats(
    p_showtime bigint,
    p_seat_ids bigint[],
    p_statuses text[],
    p_require_scheduled boolean DEFAULT false
) RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    v_seq bigint;
    v_hall bigint;
    v_available bigint;
    v_changes text;
BEGIN
    IF coalesce(cardinality(p_seat_ids), 0) <> coalesce(cardinality(p_statuses), 0) THEN
        RAISE EXCEPTION 'marquee_announce_seats: % seat ids but % statuses',
            cardinality(p_seat_ids), cardinality(p_statuses);
    END IF;
    IF EXISTS (
        SELECT 1 FROM unnest(p_statuses) st
        WHERE st IS NULL OR st NOT IN ('AVAILABLE', 'HELD', 'SOLD', 'BLOCKED')
    ) THEN
        RAISE EXCEPTION 'marquee_announce_seats: unknown seat status in %', p_statuses;
    END IF;

    UPDATE showtimes SET seat_sequence = seat_sequence + 1
    WHERE id = p_showtime AND (NOT p_require_scheduled OR status = 'SCHEDULED')
    RETURNING seat_sequence, hall_id INTO v_seq, v_hall;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    -- Available: not blocked, and no occupancy that still occupies the seat (sold, or a
    -- hold that has not expired: an expired hold frees its seat at once, swept or not).
    SELECT count(*) INTO v_available FROM seats s
    WHERE s.hall_id = v_hall AND NOT s.is_blocked AND NOT EXISTS (
        SELECT 1 FROM seat_occupancy o
        WHERE o.showtime_id = p_showtime AND o.seat_id = s.id
        AND (o.status = 'SOLD' OR o.expires_at > now())
    );

    SELECT coalesce(
        '[' || string_agg('[' || c.seat || ',"' || left(c.status, 1) || '"]', ','
            ORDER BY c.seat) || ']',
        '[]'
    )
    INTO v_changes
    FROM unnest(p_seat_ids, p_statuses) AS c(seat, status);

    PERFORM pg_notify('seat_changes',
        '{"s":' || p_showtime || ',"q":' || v_seq || ',"a":' || v_available || CASE
            -- NOTIFY payloads must stay under 8000 bytes: past that, a resync marker.
            WHEN octet_length(v_changes) + 100 > 7900 THEN ',"r"\:1}'
            ELSE ',"c":' || v_changes || '}'
        END);
    RETURN v_seq;
END
$fn$
"""

# `marquee_hold_seats` of 0004_booking, unchanged but for its announcement, which is now a
# call of `marquee_announce_seats` (same signature, so CREATE OR REPLACE).
HOLD_SEATS_FUNCTION = r"""CREATE OR REPLACE FUNCTION marquee_hold_seats(
    p_user bigint,
    p_showtime bigint,
    p_seat_ids bigint[],
    p_ttl_seconds integer,
    p_max_seats integer,
    p_sales_window_days integer,
    OUT o_outcome text,
    OUT o_seat_ids bigint[],
    OUT o_hold_id bigint,
    OUT o_expires_at timestamptz,
    OUT o_sequence bigint
) LANGUAGE plpgsql AS $fn$
DECLARE
    v_wanted bigint[];
    v_status text;
    v_starts timestamptz;
    v_hall bigint;
    v_foreign bigint[];
    v_blocked bigint[];
    v_expires timestamptz;
    v_hold bigint;
    v_created boolean;
    v_released bigint[] := '{}';
    v_kept bigint[] := '{}';
    v_add bigint[];
    v_won bigint[];
    v_lost bigint[] := '{}';
    v_seq bigint;
BEGIN
    IF coalesce(cardinality(p_seat_ids), 0) = 0 THEN
        o_outcome := 'EMPTY';
        RETURN;
    END IF;
    IF cardinality(p_seat_ids) > p_max_seats THEN
        o_outcome := 'HOLD_LIMIT_EXCEEDED';
        RETURN;
    END IF;
    o_seat_ids := ARRAY(
        SELECT s FROM unnest(p_seat_ids) s GROUP BY s HAVING count(*) > 1 ORDER BY s
    );
    IF cardinality(o_seat_ids) > 0 THEN
        o_outcome := 'REPEATED';
        RETURN;
    END IF;
    v_wanted := ARRAY(SELECT s FROM unnest(p_seat_ids) s ORDER BY s);

    SELECT st.status, st.starts_at, st.hall_id INTO v_status, v_starts, v_hall
    FROM showtimes st WHERE st.id = p_showtime;
    IF NOT FOUND THEN
        o_outcome := 'NOT_FOUND';
    ELSIF v_status <> 'SCHEDULED' THEN
        o_outcome := 'CANCELLED';
    ELSIF v_starts <= now() THEN
        o_outcome := 'STARTED';
    ELSIF v_starts > now() + make_interval(days => p_sales_window_days) THEN
        o_outcome := 'TOO_FAR';
    END IF;
    IF o_outcome IS NOT NULL THEN
        o_seat_ids := NULL;
        RETURN;
    END IF;

    SELECT
        coalesce(array_agg(w ORDER BY w) FILTER (WHERE s.id IS NULL), '{}'),
        coalesce(array_agg(w ORDER BY w) FILTER (WHERE s.is_blocked), '{}')
    INTO v_foreign, v_blocked
    FROM unnest(v_wanted) w LEFT JOIN seats s ON s.id = w AND s.hall_id = v_hall;
    IF cardinality(v_foreign) > 0 THEN
        o_outcome := 'FOREIGN';
        o_seat_ids := v_foreign;
        RETURN;
    END IF;
    IF cardinality(v_blocked) > 0 THEN
        o_outcome := 'BLOCKED';
        o_seat_ids := v_blocked;
        RETURN;
    END IF;

    v_expires := least(now() + make_interval(secs => p_ttl_seconds), v_starts);
    BEGIN
        -- Create the hold, or lock and renew the user's existing one.
        INSERT INTO seat_holds AS h (user_id, showtime_id, expires_at)
        VALUES (p_user, p_showtime, v_expires)
        ON CONFLICT (user_id, showtime_id) DO UPDATE SET expires_at = excluded.expires_at
        RETURNING h.id, h.xmax = 0 INTO v_hold, v_created;

        IF NOT v_created THEN
            -- Seats of the previous hold: release those not wanted, renew the others.
            WITH gone AS (
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
        END IF;

        v_add := ARRAY(SELECT w FROM unnest(v_wanted) w WHERE NOT (w = ANY (v_kept)) ORDER BY w);
        IF cardinality(v_add) > 0 THEN
            -- The unique constraint decides; in seat order, so racing holds lock alike.
            WITH ins AS (
                INSERT INTO seat_occupancy (showtime_id, seat_id, hold_id, status, expires_at)
                SELECT p_showtime, w, v_hold, 'HELD', v_expires FROM unnest(v_add) w ORDER BY w
                ON CONFLICT (showtime_id, seat_id) DO NOTHING
                RETURNING seat_id
            )
            SELECT coalesce(array_agg(seat_id), '{}') INTO v_won FROM ins;
            v_lost := ARRAY(
                SELECT w FROM unnest(v_add) w WHERE NOT (w = ANY (v_won)) ORDER BY w
            );
            IF cardinality(v_lost) > 0 THEN
                -- An expired hold the sweeper has not reached yet does not occupy its seat:
                -- free such seats and try them once more.
                DELETE FROM seat_occupancy o
                WHERE o.showtime_id = p_showtime AND o.seat_id = ANY (v_lost)
                AND o.status = 'HELD' AND o.expires_at <= now();
                IF FOUND THEN
                    WITH ins AS (
                        INSERT INTO seat_occupancy
                            (showtime_id, seat_id, hold_id, status, expires_at)
                        SELECT p_showtime, w, v_hold, 'HELD', v_expires
                        FROM unnest(v_lost) w ORDER BY w
                        ON CONFLICT (showtime_id, seat_id) DO NOTHING
                        RETURNING seat_id
                    )
                    SELECT coalesce(array_agg(seat_id), '{}') INTO v_won FROM ins;
                    v_lost := ARRAY(
                        SELECT w FROM unnest(v_lost) w WHERE NOT (w = ANY (v_won)) ORDER BY w
                    );
                END IF;
                IF cardinality(v_lost) > 0 THEN
                    RAISE EXCEPTION 'seats taken' USING ERRCODE = 'MQ409';
                END IF;
            END IF;
        END IF;

        IF cardinality(v_released) + cardinality(v_add) > 0 THEN
            -- Announce through the one announcer (the released seats AVAILABLE, the new
            -- ones HELD). Its row lock on the showtime orders the sequence and is released
            -- by this statement's own commit, inside PostgreSQL; NULL: no longer SCHEDULED.
            v_seq := marquee_announce_seats(
                p_showtime,
                v_released || v_add,
                array_fill('AVAILABLE'::text, ARRAY[cardinality(v_released)])
                    || array_fill('HELD'::text, ARRAY[cardinality(v_add)]),
                true
            );
            IF v_seq IS NULL THEN
                RAISE EXCEPTION 'showtime cancelled' USING ERRCODE = 'MQ410';
            END IF;
        END IF;
    EXCEPTION
        WHEN SQLSTATE 'MQ409' THEN
            o_outcome := 'TAKEN';
            o_seat_ids := v_lost;
            RETURN;
        WHEN SQLSTATE 'MQ410' THEN
            o_outcome := 'CANCELLED';
            RETURN;
    END;
    o_outcome := 'OK';
    o_seat_ids := v_wanted;
    o_hold_id := v_hold;
    o_expires_at := v_expires;
    o_sequence := v_seq;
END
$fn$
"""


def _hold_seats_0004() -> str:
    """The 0004_booking definition of `marquee_hold_seats`, as CREATE OR REPLACE."""
    path = Path(__file__).with_name("0004_booking.py")
    spec = importlib.util.spec_from_file_location("marquee_migration_0004_booking", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    definition: str = module.HOLD_SEATS_FUNCTION
    return definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    op.execute(ANNOUNCE_SEATS_FUNCTION)
    op.execute(HOLD_SEATS_FUNCTION)


def downgrade() -> None:
    op.execute(_hold_seats_0004())
    op.execute("DROP FUNCTION marquee_announce_seats(bigint, bigint[], text[], boolean)")
