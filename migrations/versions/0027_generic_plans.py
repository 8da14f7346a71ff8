"""generic plans: the seat announcer keeps one plan per statement instead of planning its
count again at every call.

PL/pgSQL caches a plan per statement and, after five calls, keeps a generic one unless the
planner thinks a plan made for the actual values is cheaper even counting the planning. For
the available count of `marquee_announce_seats` (migration 0025_announce_count) it always
thought so: under the `checkout_pay` bench pg_stat_statements showed as many plans as
calls, about 0.7 ms of planning each with the machine busy, twice a purchase. Every
statement of the function looks rows up by key (a showtime, its hall, its occupancies), so
the generic plan is the plan; the setting is on the function (restored when it returns),
not on the session.

Only this function: the same setting on `marquee_hold_seats` (one more statement planned at
every call) made concurrent holds of overlapping seats deadlock in the `holds` bench often
enough to exhaust the retries (two runs of three failed), so the functions that lock rows
of more than one key keep PostgreSQL's own choice.

Revision ID: 0027_generic_plans
Revises: 0026_viewer_changes
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027_generic_plans"
down_revision: str | None = "0026_viewer_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = ("marquee_announce_seats(bigint, bigint[], text[], boolean)",)


def upgrade() -> None:
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} SET plan_cache_mode = force_generic_plan")


def downgrade() -> None:
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} RESET plan_cache_mode")
