"""viewer changes: a change of what a user's access token is judged by is announced.

Every request with a token read the viewer's users row (is the account active, its role,
its name, `sessions_valid_after`): one statement per request, a quarter of a seat hold's
application time. Each process now keeps those fields of the viewers it has seen
(graph/accounts/revocations.py), trusted only while it hears this announcement: a trigger
on `users` sends `user:<id>` on the channel that already carries ended sessions
(`session_revocations`) whenever one of those columns changes or the row is deleted, in the
changing transaction (so it arrives when the change is committed, on every instance);
`user:*` when the table is truncated (every entry goes).
Other updates of the row (loyalty points, total spent, profile fields) send nothing.

Revision ID: 0026_viewer_changes
Revises: 0025_announce_count
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026_viewer_changes"
down_revision: str | None = "0025_announce_count"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channel is db.accounts.codes.SESSION_CHANNEL (a migration states its values).
FUNCTION = """
CREATE FUNCTION marquee_viewer_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('session_revocations', 'user:*');
    ELSE
        PERFORM pg_notify('session_revocations', 'user:' || OLD.id);
    END IF;
    RETURN NULL;
END
$fn$
"""

COLUMNS = ("is_active", "role", "username", "sessions_valid_after")


def upgrade() -> None:
    op.execute(FUNCTION)
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in COLUMNS)
    op.execute(
        f"CREATE TRIGGER users_viewer_changed AFTER UPDATE OF {', '.join(COLUMNS)} ON users"
        f" FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION marquee_viewer_changed()"
    )
    op.execute(
        "CREATE TRIGGER users_viewer_deleted AFTER DELETE ON users"
        " FOR EACH ROW EXECUTE FUNCTION marquee_viewer_changed()"
    )
    op.execute(
        "CREATE TRIGGER users_viewer_truncated AFTER TRUNCATE ON users"
        " FOR EACH STATEMENT EXECUTE FUNCTION marquee_viewer_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER users_viewer_truncated ON users")
    op.execute("DROP TRIGGER users_viewer_deleted ON users")
    op.execute("DROP TRIGGER users_viewer_changed ON users")
    op.execute("DROP FUNCTION marquee_viewer_changed()")
