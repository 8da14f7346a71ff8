"""generic plans: the sale's seat functions keep one plan per statement instead of planning
some statements again at every call.

PL/pgSQL caches a plan per statement and, after five calls, keeps a generic one unless the
planner thinks a plan made for the actual values is cheaper even counting the planning. For
three statements of the sale it always thought so, and planned them at every call
(pg_stat_statements under the `checkout_pay` bench: as many plans as calls): the available
count of `marquee_announce_seats` (twice a purchase, about 0.7 ms of planning each with the
machine busy), the check of the wanted seats in `marquee_hold_seats` and the product lines
of `marquee_checkout`. Every statement of these functions looks rows up by key (a showtime,
its seats, a hold, an order), so the generic plan is the plan; the setting is on the
function (restored when it returns), not on the session.

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

FUNCTIONS = (
    "marquee_announce_seats(bigint, bigint[], text[], boolean)",
    "marquee_hold_seats(bigint, bigint, bigint[], integer, integer, integer, text)",
    "marquee_checkout(bigint, bigint, text, text, jsonb, text, integer, integer)",
)


def upgrade() -> None:
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} SET plan_cache_mode = force_generic_plan")


def downgrade() -> None:
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} RESET plan_cache_mode")
