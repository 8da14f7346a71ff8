"""presale waves: `marquee_hold_seats` refuses a hold before the user's sales opening

Revision ID: 0013_presale
Revises: 0012_shop_functions
Create Date: 2026-12-04
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0013_presale"
down_revision: str | None = "0012_shop_functions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# When sales open for a user (docs/shop.md, "Presale waves"): general sale (the showtime's
# sales_open_at) or, if earlier, the earliest presale wave the user belongs to: a
# LOYALTY_MEMBERS wave when the user has at least its min_loyalty_points, a PROMO_CODE wave
# when p_promo_code names the wave's code (case-insensitive) and that code is active (its
# validity dates do not matter here). A NULL user (anonymous) or code qualifies for nothing.
# Indexed lookups only: presale_waves (showtime_id, opens_at), users by id, promo_codes by
# lower(code). The hold function calls it only while general sale is still ahead.
SALES_OPENING_FUNCTION = r"""
CREATE FUNCTION marquee_sales_opening(
    p_user bigint,
    p_showtime bigint,
    p_sales_open_at timestamptz,
    p_promo_code text
) RETURNS timestamptz LANGUAGE sql STABLE AS $fn$
    SELECT least(p_sales_open_at, (
        SELECT min(w.opens_at) FROM presale_waves w
        WHERE w.showtime_id = p_showtime AND (
            (w.audience = 'LOYALTY_MEMBERS' AND w.min_loyalty_points <= (
                SELECT u.loyalty_points FROM users u WHERE u.id = p_user
            ))
            OR (w.audience = 'PROMO_CODE' AND w.promo_code_id = (
                SELECT c.id FROM promo_codes c
                WHERE lower(c.code) = lower(p_promo_code) AND c.is_active
            ))
        )
    ))
$fn$
"""

# `marquee_hold_seats` of 0006_seat_announcer with one more check and one more result: after
# the showtime's checks (exists, SCHEDULED, not started, inside the sales window) and while
# its general sale (sales_open_at) is still ahead, the user's own opening
# (`marquee_sales_opening`, with the promo code the customer passed) must have come, else
# the outcome is NOT_YET with that opening in o_opens_at. A showtime without sales_open_at
# (or whose general sale has opened) costs nothing more. Everything else is unchanged.
# New parameter and result, so the function is dropped and created again.
HOLD_SEATS_FUNCTION = r"""CREATE FUNCTION marquee_hold_seats(
    p_user bigint,
    p_showtime bigint,
    p_seat_ids bigint[],
    p_ttl_seconds integer,
    p_max_seats integer,
    p_sales_window_days integer,
    p_promo_code text DEFAULT NULL,
    OUT o_outcome text,
    OUT o_seat_ids bigint[],
    OUT o_hold_id bigint,
    OUT o_expires_at timestamptz,
    OUT o_sequence bigint,
    OUT o_opens_at timestamptz
) LANGUAGE plpgsql AS $fn$
DECLARE
    v_wanted bigint[];
    v_status text;
    v_starts timestamptz;
    v_hall bigint;
    v_sales_open timestamptz;
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

    SELECT st.status, st.starts_at, st.hall_id, st.sales_open_at
    INTO v_status, v_starts, v_hall, v_sales_open
    FROM showtimes st WHERE st.id = p_showtime;
    IF NOT FOUND THEN
        o_outcome := 'NOT_FOUND';
    ELSIF v_status <> 'SCHEDULED' THEN
        o_outcome := 'CANCELLED';
    ELSIF v_starts <= now() THEN
        o_outcome := 'STARTED';
    ELSIF v_starts > now() + make_interval(days => p_sales_window_days) THEN
        o_outcome := 'TOO_FAR';
    ELSIF v_sales_open > now() THEN
        -- Before general sale (only then: one indexed lookup of the showtime's waves):
        -- the user's own opening, the earliest wave they qualify for, else general sale.
        o_opens_at := marquee_sales_opening(p_user, p_showtime, v_sales_open, p_promo_code);
        IF o_opens_at > now() THEN
            o_outcome := 'NOT_YET';
        ELSE
            o_opens_at := NULL;
        END IF;
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

OLD_SIGNATURE = "marquee_hold_seats(bigint, bigint, bigint[], integer, integer, integer)"
NEW_SIGNATURE = "marquee_hold_seats(bigint, bigint, bigint[], integer, integer, integer, text)"


def _hold_seats_0006() -> str:
    """The 0006_seat_announcer definition of `marquee_hold_seats`."""
    path = Path(__file__).with_name("0006_seat_announcer.py")
    spec = importlib.util.spec_from_file_location("marquee_migration_0006_seat_announcer", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    definition: str = module.HOLD_SEATS_FUNCTION
    return definition


def upgrade() -> None:
    op.execute(SALES_OPENING_FUNCTION)
    op.execute(f"DROP FUNCTION {OLD_SIGNATURE}")
    op.execute(HOLD_SEATS_FUNCTION)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {NEW_SIGNATURE}")
    op.execute(_hold_seats_0006())
    op.execute("DROP FUNCTION marquee_sales_opening(bigint, bigint, timestamptz, text)")
